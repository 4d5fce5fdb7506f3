/**
 * Redis Stream entry ids (`<ms>-<seq>`): parsing and ordering. A change is applied only when its id is
 * after the last one applied, so the same entry seen by the blocking reader and by a writer's catch-up
 * is applied once.
 */

/** The id before every entry. */
export const STREAM_START = '0-0';

const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;

/** True when `value` is a complete stream id. */
export function isStreamId(value: unknown): value is string {
  return typeof value === 'string' && STREAM_ID.test(value);
}

/** Negative, zero or positive as `a` is before, equal to or after `b` (both valid ids). */
export function compareStreamIds(a: string, b: string): number {
  const [, aMs = '0', aSeq = '0'] = STREAM_ID.exec(a) ?? [];
  const [, bMs = '0', bSeq = '0'] = STREAM_ID.exec(b) ?? [];
  const ms = BigInt(aMs) - BigInt(bMs);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(aSeq) - BigInt(bSeq);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}
