/**
 * Aligned plain-text tables for the CLI's human output. Cells come partly from the network (ids,
 * rules, labels), so control characters are replaced before printing: a hostile label must not be able
 * to move the cursor or rewrite the operator's terminal.
 */

/** Replaces control characters (C0, DEL, C1) by a space. */
export function printable(value: string): string {
  let out = '';
  for (const char of value) {
    const code = char.charCodeAt(0);
    out += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? ' ' : char;
  }
  return out;
}

/**
 * Formats rows under a header, each column padded to its widest cell and separated by two spaces.
 * Trailing spaces are trimmed.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = [headers, ...rows].map((row) => headers.map((_, index) => printable(row[index] ?? '')));
  const widths = headers.map((_, index) => Math.max(...cells.map((row) => (row[index] as string).length)));
  return cells.map((row) => row.map((cell, index) => cell.padEnd(widths[index] as number)).join('  ').trimEnd()).join('\n');
}
