/**
 * The configuration as plain nested data (`{ control: { limits: { burst: 40 } } }`), and the two path
 * helpers every config module uses. Values are validated before they are stored here.
 */

/** A section of the configuration: option names to values or nested sections. */
export interface ConfigTree {
  [key: string]: unknown;
}

/** True for a non-null, non-array object. */
export function isTree(value: unknown): value is ConfigTree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at a dotted path, or undefined when any section on the way is missing (or `false`). */
export function getIn(tree: ConfigTree, path: string): unknown {
  let node: unknown = tree;
  for (const key of path.split('.')) {
    if (!isTree(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/** Sets the value at a dotted path, creating (or replacing a `false` with) the sections on the way. */
export function setIn(tree: ConfigTree, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = tree;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (isTree(next)) node = next;
    else node = node[key] = {};
  }
  node[keys[keys.length - 1]!] = value;
}

/** A deep copy with every section frozen. */
export function freezeTree<T>(value: T): T {
  if (Array.isArray(value)) return Object.freeze(value.map((item: unknown) => freezeTree(item))) as T;
  if (isTree(value)) {
    const copy: ConfigTree = {};
    for (const [key, item] of Object.entries(value)) copy[key] = freezeTree(item);
    return Object.freeze(copy) as T;
  }
  return value;
}
