#!/usr/bin/env node
/**
 * Entry point of the `inteli-sysadmin` binary. All logic is in `run-cli.ts` so it can be tested
 * in-process; this file only wires it to the process. The environment is read through
 * `readSysadminEnv` (env.ts is the only reader of `process.env`), lazily, so a bad variable fails only
 * the commands that connect.
 */
import { readSysadminEnv } from '../shared/env.js';
import { runCli } from './run-cli.js';

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }, { env: () => readSysadminEnv() }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`inteli-sysadmin: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
