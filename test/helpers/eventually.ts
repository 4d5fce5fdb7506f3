/**
 * Waits until `check()` returns true, re-checking every few milliseconds, or rejects after `timeoutMs`
 * with `what` in the message. For states that have no event to wait on (a link to Redis going down);
 * where an event exists, wait for the event instead.
 */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
