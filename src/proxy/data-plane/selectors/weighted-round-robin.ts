/**
 * Weighted round-robin. The sequence is nginx's smooth weighted round-robin (weights 5,1,1 give
 * A A B A C A A, not A A A A A B C), computed once per change into a wheel, so a pick is a cursor step.
 * Weights are divided by their greatest common divisor, and scaled down proportionally when the wheel
 * would exceed {@link MAX_WHEEL_SIZE} slots, which bounds memory for routes with many heavy upstreams.
 * Unavailable upstreams are skipped.
 */
import type { ProxySelector, SelectableUpstream } from './proxy-selector.js';

/** Largest wheel, in slots. */
export const MAX_WHEEL_SIZE = 4096;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Builds the smooth weighted round-robin sequence of indexes for these weights. */
export function buildWheel(weights: readonly number[]): number[] {
  if (weights.length === 0) return [];
  let scaled = weights.map((weight) => Math.max(1, Math.floor(weight)));
  const divisor = scaled.reduce(gcd);
  scaled = scaled.map((weight) => weight / divisor);
  let total = scaled.reduce((sum, weight) => sum + weight, 0);
  if (total > MAX_WHEEL_SIZE) {
    const factor = MAX_WHEEL_SIZE / total;
    scaled = scaled.map((weight) => Math.max(1, Math.floor(weight * factor)));
    total = scaled.reduce((sum, weight) => sum + weight, 0);
  }
  const current = new Array<number>(scaled.length).fill(0);
  const wheel: number[] = [];
  for (let slot = 0; slot < total; slot += 1) {
    let best = 0;
    for (let index = 0; index < scaled.length; index += 1) {
      current[index] = (current[index] as number) + (scaled[index] as number);
      if ((current[index] as number) > (current[best] as number)) best = index;
    }
    current[best] = (current[best] as number) - total;
    wheel.push(best);
  }
  return wheel;
}

/** Spreads requests in proportion to the upstreams' weights. */
export class WeightedRoundRobinSelector<U extends SelectableUpstream> implements ProxySelector<U> {
  #upstreams: readonly U[] = [];
  #wheel: number[] = [];
  #cursor = 0;

  constructor(upstreams: readonly U[]) {
    this.update(upstreams);
  }

  select(exclude?: U): U | undefined {
    const wheel = this.#wheel;
    const size = wheel.length;
    let cursor = this.#cursor;
    for (let tried = 0; tried < size; tried += 1) {
      if (cursor >= size) cursor = 0;
      const upstream = this.#upstreams[wheel[cursor] as number] as U;
      cursor += 1;
      if (upstream.available && upstream !== exclude) {
        this.#cursor = cursor;
        return upstream;
      }
    }
    return undefined;
  }

  update(upstreams: readonly U[]): void {
    this.#upstreams = upstreams;
    this.#wheel = buildWheel(upstreams.map((upstream) => upstream.weight));
    if (this.#cursor >= this.#wheel.length) this.#cursor = 0;
  }
}

/** Factory of {@link WeightedRoundRobinSelector}. */
export function weightedRoundRobin<U extends SelectableUpstream>(upstreams: readonly U[]): ProxySelector<U> {
  return new WeightedRoundRobinSelector(upstreams);
}
