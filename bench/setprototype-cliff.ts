/**
 * Why a middleware's `res.end = ...` can cost microseconds: Express re-parents every request and
 * response (Object.setPrototypeOf(res, app.response)), and on V8 11 (Node 20) each property
 * written to an object re-parented that way is slow. This shows it on bare node:http objects.
 *
 *   tsx bench/setprototype-cliff.ts
 */
import { IncomingMessage, ServerResponse } from 'node:http'
import express from 'express'

const appResponse = (express() as unknown as { response: object }).response
const req = new IncomingMessage(null as never)
const wrapper = function (): void {}
const ROUNDS = 50_000

function time (name: string, make: () => void): void {
  for (let i = 0; i < 5_000; i++) make()
  const start = process.hrtime.bigint()
  for (let i = 0; i < ROUNDS; i++) make()
  console.log(`${name.padEnd(64)} ${(Number(process.hrtime.bigint() - start) / ROUNDS).toFixed(0).padStart(7)} ns`)
}

type Writable = Record<string, unknown>

time('new ServerResponse', () => { void new ServerResponse(req) })
time('+ 4 own methods (writeHead, write, end, flushHeaders)', () => {
  const res = new ServerResponse(req) as unknown as Writable
  res.writeHead = wrapper; res.write = wrapper; res.end = wrapper; res.flushHeaders = wrapper
})
time('+ setPrototypeOf(res, app.response), as Express does', () => {
  Object.setPrototypeOf(new ServerResponse(req), appResponse)
})
time('+ setPrototypeOf(res, app.response) + 1 own method', () => {
  const res = Object.setPrototypeOf(new ServerResponse(req), appResponse) as Writable
  res.end = wrapper
})
time('+ setPrototypeOf(res, app.response) + 4 own methods', () => {
  const res = Object.setPrototypeOf(new ServerResponse(req), appResponse) as Writable
  res.writeHead = wrapper; res.write = wrapper; res.end = wrapper; res.flushHeaders = wrapper
})
const entries = new WeakMap<object, unknown>()
time('+ setPrototypeOf(res, app.response) + WeakMap.set (no own property)', () => {
  entries.set(Object.setPrototypeOf(new ServerResponse(req), appResponse) as object, wrapper)
})
