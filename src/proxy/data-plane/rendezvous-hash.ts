/**
 * Rendezvous (highest random weight) hashing for `hash` affinity: each upstream gets a score per key, and
 * the available upstream with the highest score wins. Adding an upstream moves only the keys it now wins
 * (about 1/n of them); removing one, or taking it out of rotation, moves only its own keys, which go to
 * their second-best upstream: the "consistent" property, with no ring to rebuild and no virtual nodes.
 * A pick costs one string hash and one integer mix per upstream of the route, with no allocation.
 */

/** FNV-1a over the UTF-16 code units, 32 bits. */
export function hashString(value: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < value.length; index += 1) {
    hash ^= value.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** MurmurHash3's finaliser: spreads every input bit over the whole word. */
export function mix32(value: number): number {
  let hash = value >>> 0;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** What rendezvous hashing needs of an upstream. */
export interface HashedUpstream {
  readonly available: boolean;
  /** {@link hashString} of a stable identity of the upstream (survives re-registration). */
  readonly identityHash: number;
}

/**
 * The available upstream with the highest score for `keyHash`, never `exclude`; undefined when none is
 * available.
 */
export function rendezvousPick<U extends HashedUpstream>(upstreams: readonly U[], keyHash: number, exclude?: U): U | undefined {
  let best: U | undefined;
  let bestScore = -1;
  for (let index = 0; index < upstreams.length; index += 1) {
    const upstream = upstreams[index] as U;
    if (!upstream.available || upstream === exclude) continue;
    const score = mix32(keyHash ^ upstream.identityHash);
    if (score > bestScore) {
      bestScore = score;
      best = upstream;
    }
  }
  return best;
}
