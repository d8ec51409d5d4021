/**
 * The session table's layout, arc's plus what users-and-devices needs: `_idx` string hash key,
 * TTL on `_ttl`, and a sparse global secondary index on `_user` (only items bound to a signed-in
 * user appear in it) projecting what a list of a user's sessions shows.
 */
export const HASH_KEY = '_idx'
export const TTL_ATTRIBUTE = '_ttl'
export const USER_ATTRIBUTE = '_user'
export const USER_INDEX = 'arc-session-user'
export const USER_INDEX_ATTRIBUTES = ['_sid', '_created', '_touched', '_ttl', '_device', '_kind', '_bound'] as const
