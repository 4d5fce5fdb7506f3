/**
 * Jest reporter that prints the closing summary of the hostile suite: cases tried and passed (from the
 * results of the test files under test/hostile/) and the totals of requests sent, answered and lost
 * (from the per-file counts that test/helpers/hostile-tally.ts writes). It prints nothing when no
 * hostile test ran, so it can stay in the shared jest config.
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
    const totals = { sent: 0, answered: 0, lost: 0, refused: 0 };
    const notes = [];
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
        for (const line of counts.notes ?? []) notes.push(line);
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
      `  wall time:         ${seconds} s`,
      ...notes.sort().map((line) => `  - ${line}`),
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
