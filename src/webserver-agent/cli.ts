#!/usr/bin/env node
/**
 * Entry point of the `inteli-agent` binary; the logic is in `run-agent-cli.ts`.
 */
import { runAgentCli } from './run-agent-cli.js';

runAgentCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`inteli-agent: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
