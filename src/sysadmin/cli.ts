#!/usr/bin/env node
/**
 * Entry point of the `inteli-sysadmin` binary. All logic is in `run-cli.ts` so it can be tested
 * in-process; this file only wires it to the process.
 */
import { runCli } from './run-cli.js';

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`inteli-sysadmin: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
