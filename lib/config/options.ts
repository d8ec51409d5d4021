import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { SameSite } from '../cookie/serialize'
import type { Algorithm } from '../crypto/keys'
import type { SessionRegistry } from '../stores/registry'
import type { RejectReason, Store } from '../stores/store'

/** Everything arcSession() accepts. Every setting is optional; options win over the environment. */
export interface ArcSessionOptions {
  /**
   * Key material: a string, or a list whose first entry seals/signs and whose every entry
   * opens/verifies (rotation). Env: ARC_APP_SECRET, plus ARC_APP_SECRET_PREVIOUS (comma-separated).
   */
  secret?: string | readonly string[]
  /** JWE content encryption. Env: ARC_APP_SECRET_ALGO. Default A256GCM. */
  algorithm?: Algorithm
  /** 'jwe' for the cookie store, anything else names a DynamoDB table. Env: ARC_SESSION_TABLE_NAME, SESSION_TABLE_NAME. */
  table?: string
  /** A store of your own; wins over `table`. */
  store?: Store
  /** Idle lifetime in seconds: a session unused for this long ends. Env: ARC_SESSION_TTL, SESSION_TTL. Default 604800 (7 days). */
  ttl?: number
  /** Absolute lifetime in seconds from creation; 0 turns it off. Env: ARC_SESSION_MAX_LIFETIME. Default 2592000 (30 days). */
  maxLifetime?: number
  cookie?: CookieOptions
  dynamodb?: DynamoDBOptions
  /** Called with the reason whenever a session cookie is refused (for metrics), and the request. arc-session itself never logs or passes on cookie or key bytes. */
  onReject?: (reason: RejectReason, req: unknown) => void
  /**
   * Which signed-in user a session belongs to: a key of the session data (`'userId'`), or a
   * function of the data (`data => data.passport?.user`). Turns on listUserSessions(),
   * revokeSession() and revokeUserSessions(). The cookie store also needs `registry`.
   */
  user?: string | ((data: Record<string, any>) => unknown) // eslint-disable-line @typescript-eslint/no-explicit-any
  /**
   * Cookie store: where each user's sessions and revocation marks are kept. A DynamoDB table made by
   * createTable() (its name; `dynamodb` options configure the client), or your own SessionRegistry.
   */
  registry?: string | SessionRegistry
  /** Cookie store: seconds a process may rely on its last look at a user's revocations. 0 = every request. Default 30. */
  revocationCheck?: number
  /** Cookie store: when the registry cannot be reached for longer than revocationCheck, 'closed' refuses sessions (503), 'open' accepts them. Default 'closed'. */
  registryFailure?: 'closed' | 'open'
  /** A short description of the device, stored when a session is bound to a user (say, from the User-Agent). Never stored unless given. */
  device?: (req: any) => unknown // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Milliseconds since the epoch; replace it in tests to move time. Default Date.now. */
  clock?: () => number
  /** Where environment settings come from. Default process.env. */
  env?: Readonly<Record<string, string | undefined>>
}

export interface CookieOptions {
  /** Default `_idx` (arc's name). */
  name?: string
  /** Env: ARC_SESSION_DOMAIN, SESSION_DOMAIN. Default: none (host-only). */
  domain?: string
  /** Default `/`. */
  path?: string
  /** Env: ARC_SESSION_SAME_SITE. Default `lax`. */
  sameSite?: SameSite
  /**
   * Default: on, except where ARC_ENV is `testing` (arc's rule) or, with ARC_ENV unset, NODE_ENV is
   * `development` or `test`. SameSite=None always gets Secure.
   */
  secure?: boolean
  /** `Partitioned` (CHIPS): the cookie is kept per top-level site, for an app embedded in other sites' frames. Needs Secure. Default false. */
  partitioned?: boolean
  /**
   * Most bytes the session cookies may add to the next request's Cookie header. Default 12288
   * (three 4 KB chunks), which leaves room for other headers under Node's 16 KiB header limit.
   */
  maxBytes?: number
}

export interface DynamoDBOptions {
  /** A ready client; region, endpoint and credentials are then its own. */
  client?: DynamoDBClient
  /** Default: AWS_REGION / AWS_DEFAULT_REGION / the shared config file (us-west-2 for a local endpoint or Sandbox). */
  region?: string
  /** e.g. http://localhost:4567 for dynalite. Default: Sandbox's DynamoDB under ARC_SANDBOX, else AWS_ENDPOINT_URL_DYNAMODB, else AWS. */
  endpoint?: string
  /** Seconds a store operation may take, retries included, before the request fails with 503. Default 5. */
  timeout?: number
}
