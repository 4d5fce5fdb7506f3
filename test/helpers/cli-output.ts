/**
 * The output side of a CLI under test (the sysadmin's and the agent's take the same `{ stdout, stderr }`
 * shape): everything the CLI prints is kept, so a test asserts on it after the run.
 */

/** A CLI io whose printed text can be read back. */
export interface CollectedOutput {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  /** Everything printed on stdout so far. */
  out(): string;
  /** Everything printed on stderr so far. */
  err(): string;
}

/** A fresh, empty collector. */
export function collector(): CollectedOutput {
  let out = '';
  let err = '';
  return {
    stdout: { write: (chunk: string) => (out += chunk) },
    stderr: { write: (chunk: string) => (err += chunk) },
    out: () => out,
    err: () => err,
  };
}
