/**
 * Summarizes V8 `.cpuprofile` files written by `--cpu-prof`: where the proxy spent its samples, by area
 * (our code, undici, Node's HTTP internals, GC, idle) and by function (self and inclusive time). Can also
 * be run on its own: `node dist/bench-build/bench/profile-summary.js <dir-or-file>...`.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function isProfile(value: unknown): value is CpuProfile {
  const v = value as Partial<CpuProfile> | null;
  return typeof v === 'object' && v !== null && Array.isArray(v.nodes) && Array.isArray(v.samples) && Array.isArray(v.timeDeltas);
}

/** Coarse bucket of a call frame, to see at a glance where the time goes. */
export function area(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(idle)' || functionName === '(program)' || functionName === '(garbage collector)') return functionName;
    return '(native)';
  }
  if (url.includes('/src/')) return 'inteli src/';
  if (url.includes('/bench/')) return 'bench harness';
  const nodeModule = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nodeModule !== null) return nodeModule[1]!;
  if (url.startsWith('node:internal/deps/undici')) return 'undici (bundled)';
  if (url.startsWith('node:')) {
    const match = /^node:(?:internal\/)?([a-z_]+)/.exec(url);
    return `node:${match === null ? 'other' : match[1]}`;
  }
  return 'other';
}

function label(frame: CallFrame): string {
  const file = frame.url === '' ? '' : ` ${frame.url.replace(/^file:\/\/.*?\/(src|bench|node_modules)\//, '$1/')}:${frame.lineNumber + 1}`;
  return `${frame.functionName === '' ? '(anonymous)' : frame.functionName}${file}`;
}

/** Text summary of one profile: top areas, top functions by self time and our functions by inclusive time. */
export function summarizeProfile(profile: CpuProfile, name: string, top = 20): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, index) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const total = [...self.values()].reduce((sum, value) => sum + value, 0);
  const idle = [...self.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((s, [, v]) => s + v, 0);
  const busy = total - idle;
  const pct = (value: number): string => `${((value / busy) * 100).toFixed(1).padStart(5)}%`;

  const areas = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  for (const [id, time] of self) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    areas.set(area(frame), (areas.get(area(frame)) ?? 0) + time);
    selfByFunction.set(label(frame), (selfByFunction.get(label(frame)) ?? 0) + time);
  }
  // Inclusive time of our own functions, counting a recursive frame once per stack.
  const inclusive = new Map<string, number>();
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  for (const [id, time] of self) {
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parentOf.get(current)) {
      const frame = byId.get(current)!.callFrame;
      if (area(frame) !== 'inteli src/') continue;
      const key = label(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + time);
    }
  }
  const sorted = (map: Map<string, number>, n: number): [string, number][] => [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  const lines = [`profile ${name}: ${(busy / 1000).toFixed(0)} ms busy of ${(total / 1000).toFixed(0)} ms sampled (percent of busy)`];
  lines.push('  by area:');
  for (const [key, value] of sorted(areas, 12)) lines.push(`    ${pct(value)}  ${key}`);
  lines.push(`  top ${top} functions by self time:`);
  for (const [key, value] of sorted(selfByFunction, top)) lines.push(`    ${pct(value)}  ${key}`);
  lines.push('  inteli src/ functions by inclusive time:');
  for (const [key, value] of sorted(inclusive, top)) lines.push(`    ${pct(value)}  ${key}`);
  return lines.join('\n');
}

/** Summarizes every `.cpuprofile` in `path` (a directory or a file). */
export function summarizeProfiles(path: string, top = 20): string {
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path).filter((file) => file.endsWith('.cpuprofile')).map((file) => join(path, file))
      : [path];
  } catch {
    return `no profiles in ${path}`;
  }
  if (files.length === 0) return `no profiles in ${path} (a profiled child must exit cleanly to write one)`;
  return files
    .map((file) => {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      return isProfile(parsed) ? summarizeProfile(parsed, basename(file), top) : `${file}: not a CPU profile`;
    })
    .join('\n\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const path of process.argv.slice(2)) console.log(summarizeProfiles(path, 30));
}
