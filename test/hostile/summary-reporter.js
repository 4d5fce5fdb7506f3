/**
 * Jest reporter that prints the closing summary of the hostile suite: cases tried and passed (from the
 * results of the test files under test/hostile/) and the totals of requests sent, answered and lost
 * (from the per-file counts that test/helpers/hostile-tally.ts writes). It prints nothing when no
 * hostile test ran, so it can stay in the shared jest config.
 *
 * The summary is enforced, not only printed: a request lost (accepted but never answered), or a hostile
 * test file whose counts never arrived, fails the run through `getLastError()` (jest then exits 1 even
 * when every assertion passed).
 */
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';

const TALLY_BASE = resolve(import.meta.dirname, '..', '..', 'node_modules', '.cache', 'inteli-hostile-tally');
const HOSTILE = `${sep}test${sep}hostile${sep}`;

export default class HostileSummaryReporter {
  constructor() {
    // One directory per run, handed to the test workers (spawned after the reporters are built) through
    // the environment, so concurrent jest runs never mix or delete each other's counts.
    this.dir = join(TALLY_BASE, `${process.pid}-${Date.now()}`);
    process.env.INTELI_HOSTILE_TALLY_DIR = this.dir;
  }

  onRunStart() {
    this.error = undefined;
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    this.started = Date.now();
  }

  onRunComplete(_contexts, results) {
    const files = results.testResults.filter((file) => file.testFilePath.includes(HOSTILE));
    if (files.length === 0) {
      rmSync(this.dir, { recursive: true, force: true });
      return;
    }
    let tried = 0;
    let passed = 0;
    let failingAsExpected = 0;
    let skipped = 0;
    for (const file of files) {
      for (const test of file.testResults) {
        if (test.status === 'pending' || test.status === 'skipped' || test.status === 'todo') {
          skipped += 1;
          continue;
        }
        tried += 1;
        if (test.status === 'passed') passed += 1;
        if (test.failing === true) failingAsExpected += 1;
      }
    }
    const totals = { sent: 0, answered: 0, lost: 0, refused: 0, attacks: 0, attacksHeld: 0 };
    const notes = [];
    let counted = 0;
    let entries = [];
    try {
      entries = readdirSync(this.dir);
    } catch {
      entries = [];
    }
    for (const entry of entries) {
      try {
        const counts = JSON.parse(readFileSync(join(this.dir, entry), 'utf8'));
        totals.sent += counts.sent;
        totals.answered += counts.answered;
        totals.lost += counts.lost;
        totals.refused += counts.refused ?? 0;
        totals.attacks += counts.attacks ?? 0;
        totals.attacksHeld += counts.attacksHeld ?? 0;
        for (const line of counts.notes ?? []) notes.push(line);
        counted += 1;
      } catch {
        // A half-written file from an interrupted run is ignored.
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    const seconds = ((Date.now() - (this.started ?? Date.now())) / 1000).toFixed(1);
    const lines = [
      '',
      'hostile suite summary',
      `  cases tried:       ${tried}`,
      `  cases passed:      ${passed}${failingAsExpected > 0 ? ` (${failingAsExpected} marked failing)` : ''}${skipped > 0 ? `, ${skipped} skipped` : ''}`,
      `  requests sent:     ${totals.sent}`,
      `  requests answered: ${totals.answered}`,
      `  requests lost:     ${totals.lost}`,
      `  requests refused:  ${totals.refused} (never taken: handshakes abandoned on purpose and cut by their deadline, connections refused by a stopping proxy)`,
      `  review attacks:    ${totals.attacks} tried, ${totals.attacksHeld} held (issue 14: loops, rule churn, spoofed identity headers, DNS rebinding, host-bound takeover, token replay)`,
      `  wall time:         ${seconds} s`,
      ...notes.sort().map((line) => `  - ${line}`),
    ];
    // Every hostile file that ran flushes its counts after its tests (useTally); one missing means its
    // requests went uncounted. A file that failed to load ran no test and is already a failure.
    const isRun = (test) => test.status !== 'pending' && test.status !== 'skipped' && test.status !== 'todo';
    const ran = files.filter((file) => file.testResults.some(isRun)).length;
    const problems = [];
    if (totals.lost > 0) problems.push(`${totals.lost} request(s) lost (accepted but never answered)`);
    if (counted < ran) problems.push(`the request counts of ${ran - counted} hostile test file(s) are missing`);
    if (problems.length > 0) {
      this.error = new Error(`hostile suite FAILED: ${problems.join('; ')}`);
      lines.push(`  ${this.error.message}`);
    }
    lines.push('');
    process.stdout.write(`${lines.join('\n')}\n`);
  }

  /** Jest fails the run when a reporter returns an error here. */
  getLastError() {
    return this.error;
  }
}
