/**
 * Request tally of the hostile suite. Every case counts the requests it sends, the ones answered (any
 * complete HTTP response, including the expected 400s), the ones lost (no answer where one was
 * owed) and the ones refused (never taken by a stopping proxy). Each test file flushes its counts to one JSON file in {@link TALLY_DIR} after its tests; the
 * summary reporter (`test/hostile/summary-reporter.js`) adds them up at the end of the run. A file per
 * test file keeps it correct whether jest runs the files in one process or in several workers.
 */
import { afterAll } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';

/**
 * Where the per-file counts go: the directory the summary reporter made for this run (it passes it to
 * the workers in `INTELI_HOSTILE_TALLY_DIR`, so concurrent jest runs never mix or delete each other's
 * counts), else a shared one inside the project.
 */
export const TALLY_DIR = process.env.INTELI_HOSTILE_TALLY_DIR ?? resolve(import.meta.dirname, '..', '..', 'node_modules', '.cache', 'inteli-hostile-tally', 'default');

/** Counts of one test file. */
export interface TallyCounts {
  sent: number;
  answered: number;
  lost: number;
  /**
   * Requests the proxy never took: handshakes a case abandons on purpose (cut by their deadline) and
   * connections refused or reset unread by a stopping proxy.
   */
  refused: number;
  /** Attacks of the outside security review (issue 14) replayed against the fixes. */
  attacks: number;
  /** Of those, the ones the proxy held (the test's assertions passed up to the mark). */
  attacksHeld: number;
}

const counts: TallyCounts = { sent: 0, answered: 0, lost: 0, refused: 0, attacks: 0, attacksHeld: 0 };
const notes: string[] = [];
const attackNames: string[] = [];
let registered = false;

/** Adds to the counts of this test file. */
export function tally(delta: Partial<TallyCounts>): void {
  counts.sent += delta.sent ?? 0;
  counts.answered += delta.answered ?? 0;
  counts.lost += delta.lost ?? 0;
  counts.refused += delta.refused ?? 0;
  counts.attacks += delta.attacks ?? 0;
  counts.attacksHeld += delta.attacksHeld ?? 0;
}

/**
 * Counts one replayed attack of the security review (issue 14) and runs its check: held when `check`
 * resolves, not held (and rethrown, so the test fails) when it throws. The summary prints the totals.
 */
export async function attack<T>(name: string, check: () => Promise<T>): Promise<T> {
  counts.attacks += 1;
  const result = await check();
  counts.attacksHeld += 1;
  attackNames.push(name);
  return result;
}

/** A one-line figure for the closing summary (e.g. how many requests a killed backend took with it). */
export function note(line: string): void {
  notes.push(line);
}

/** Counts one request sent and, unless `lost`, answered. */
export function tallyOne(answered: boolean): void {
  tally({ sent: 1, answered: answered ? 1 : 0, lost: answered ? 0 : 1 });
}

/** The counts so far (a copy). */
export function tallyCounts(): TallyCounts {
  return { ...counts };
}

/**
 * Scale of the soak run: `HOSTILE_SOAK=<n>` multiplies the churn cycles and WebSocket rounds
 * (`npm run test:soak` sets 10). Default 1.
 */
export const SOAK_FACTOR = Math.max(1, Math.min(1000, Number.parseInt(process.env.HOSTILE_SOAK ?? '1', 10) || 1));

/** Call once at the top of a hostile test file: flushes its counts after its last test. */
export function useTally(): void {
  if (registered) return;
  registered = true;
  afterAll(() => {
    mkdirSync(TALLY_DIR, { recursive: true });
    writeFileSync(join(TALLY_DIR, `${process.pid}-${randomUUID()}.json`), JSON.stringify({ ...counts, notes, attackNames }));
  });
}
