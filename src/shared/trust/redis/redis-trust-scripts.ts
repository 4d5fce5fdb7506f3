/**
 * The Lua scripts of the Redis trust store. Each write is one script, so Redis runs it atomically: the
 * key hash, the version and the change stream move together or not at all (an append-only file
 * truncated by a crash drops the whole script's effects), and no other proxy's write interleaves. Keys
 * are always passed as KEYS (never built inside a script), in the order of {@link scriptKeys}.
 */
import type { RedisTrustKeys } from './redis-trust-keys.js';

/** KEYS of every script: hash, version, stream, epoch. */
export function scriptKeys(keys: RedisTrustKeys): string[] {
  return [keys.keys, keys.version, keys.changes, keys.epoch];
}

/** Error reply of {@link ADD_SCRIPT} when the id exists and replace is not set. */
export const EXISTS_REPLY = 'RP_EXISTS';

/**
 * Adds (or, with replace, replaces) one key. ARGV: id, entry JSON, replace ('1' or '0'), stream max
 * length, epoch candidate. Returns `{version, streamId}`, or the error reply {@link EXISTS_REPLY}.
 */
export const ADD_SCRIPT = `
redis.call('SET', KEYS[4], ARGV[5], 'NX')
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 and ARGV[3] ~= '1' then
  return redis.error_reply('${EXISTS_REPLY} a key with this id already exists')
end
local v = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], '{"version":' .. v .. ',"entry":' .. ARGV[2] .. '}')
local sid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'v', tostring(v), 'op', 'add', 'id', ARGV[1], 'entry', ARGV[2])
return {v, sid}
`;

/**
 * Removes one key. ARGV: id, stream max length, epoch candidate. Returns `{version, streamId}`, or
 * `{0, ''}` when there was no such key (nothing is written).
 */
export const REMOVE_SCRIPT = `
redis.call('SET', KEYS[4], ARGV[3], 'NX')
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return {0, ''}
end
local v = redis.call('INCR', KEYS[2])
local sid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 'v', tostring(v), 'op', 'remove', 'id', ARGV[1])
return {v, sid}
`;

/**
 * A consistent snapshot: `{epoch, version, lastStreamId, [field, value, ...]}`; the stream position is
 * the one the hash reflects, so following the stream from it misses nothing. ARGV: epoch candidate.
 */
export const SNAPSHOT_SCRIPT = `
redis.call('SET', KEYS[4], ARGV[1], 'NX')
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local lastId = '0-0'
if #last > 0 then lastId = last[1][1] end
return {redis.call('GET', KEYS[4]), redis.call('GET', KEYS[2]) or '0', lastId, redis.call('HGETALL', KEYS[1])}
`;
