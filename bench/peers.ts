/**
 * Loaders for the peers whose published types augment `Express.Request['session']`.
 * Importing those types into this TypeScript program (which also holds arc-session's
 * own augmentation) would change what `req.session` means for the specs, so they are
 * loaded with a plain require() and given the few types used here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'

export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void

export interface ExpressSessionOptions {
  secret: string
  resave: boolean
  saveUninitialized: boolean
  rolling?: boolean
  store?: object
  cookie?: { maxAge?: number, httpOnly?: boolean, secure?: boolean, sameSite?: 'lax' | 'strict' | 'none' }
}

export interface ExpressSession {
  (options: ExpressSessionOptions): Middleware
}

export interface ConnectDynamoDBOptions {
  client: DynamoDBClient
  table: string
  hashKey?: string
  prefix?: string
}

export type ConnectDynamoDBStore = new (options: ConnectDynamoDBOptions) => object

export interface CookieSessionOptions {
  name?: string
  keys: string[]
  maxAge?: number
  httpOnly?: boolean
  secure?: boolean
  sameSite?: 'lax' | 'strict' | 'none'
}

export function loadExpressSession (): ExpressSession {
  return require('express-session') as ExpressSession
}

export function loadConnectDynamoDB (session: ExpressSession): ConnectDynamoDBStore {
  const factory = require('connect-dynamodb') as (session: ExpressSession) => ConnectDynamoDBStore
  return factory(session)
}

export function loadCookieSession (): (options: CookieSessionOptions) => Middleware {
  return require('cookie-session') as (options: CookieSessionOptions) => Middleware
}
