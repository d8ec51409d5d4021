import express from 'express'
import { arcSession } from 'arc-session'

declare module 'arc-session' {
  interface SessionData {
    count?: number
    name?: string
    cart?: { sku: string, quantity: number }[]
  }
}

const app = express()
app.use(arcSession())

app.post('/cart/:sku', (req, res) => {
  const cart = req.session.cart ?? []              // typed: { sku, quantity }[]
  cart.push({ sku: req.params.sku, quantity: 1 })
  req.session.cart = cart
  res.json(cart)
})

export { app }
