/**
 * Runs one of the scale scenarios of `npm run bench -- --scenario S` that have their own runner
 * (`agents`, `storm`, `clients`, `fleet`), prints its report and writes its figures to
 * `bench/results/scenario-<name>-<time>.json`. The `tail` and `ws` scenarios are presets of the peer run
 * (bench/run.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import type { BenchOptions } from '../options.js';
import { runAgentsScenario } from './agents-scenario.js';
import { runClientsScenario } from './clients-scenario.js';
import { runFleetScenario } from './fleet-scenario.js';

/** Runs `options.scenario`; throws for a scenario without its own runner. */
export async function runScenario(options: BenchOptions, log: (message: string) => void): Promise<void> {
  const loadAtStart = loadavg()[0]!;
  let outcome: { result: unknown; lines: string[] };
  switch (options.scenario) {
    case 'agents':
    case 'storm':
      outcome = await runAgentsScenario(options, log);
      break;
    case 'clients':
      outcome = await runClientsScenario(options, log);
      break;
    case 'fleet':
      outcome = await runFleetScenario(options, log);
      break;
    default:
      throw new Error(`scenario '${options.scenario}' runs in bench/run.ts`);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = resolve(options.outDir ?? join(process.cwd(), 'bench', 'results'));
  mkdirSync(outDir, { recursive: true });
  const resultPath = join(outDir, `scenario-${options.scenario}-${stamp}.json`);
  writeFileSync(
    resultPath,
    `${JSON.stringify({ date: new Date().toISOString(), scenario: options.scenario, node: process.version, cpus: cpus().length, loadAverage: [loadAtStart, loadavg()[0]], options, result: outcome.result }, null, 2)}\n`,
  );
  console.log([...outcome.lines, `results: ${resultPath}`].join('\n'));
}
