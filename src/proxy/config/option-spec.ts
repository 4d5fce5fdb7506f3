/**
 * The shape of one entry of the configuration schema, and the one-line builders the schema is written
 * with. An entry is plain data: its path in the file (`control.limits.burst`), its type and range, its
 * default (taken from the `DEFAULT_*` constant of the options file that owns it, never repeated as a
 * literal), whether a reload applies it live, whether it is a secret, and its environment variable.
 */

/** What a value may be. */
export type OptionType =
  | 'integer'
  | 'number'
  | 'boolean'
  | 'string'
  | 'host'
  | 'enum'
  | 'list'
  | 'path'
  /** An object holding further entries (`control`, `control.limits`, `admin`). */
  | 'section';

/** One configurable option (or section) of `inteli-proxy`. */
export interface OptionSpec {
  /** Dotted path in the file: `responseTimeoutMs`, `control.limits.burst`. */
  readonly path: string;
  readonly type: OptionType;
  /** One sentence for the docs. */
  readonly description: string;
  /** The default, or undefined when there is none or it is computed (then see `defaultText`). */
  readonly default?: unknown;
  /** The default as the docs show it when it is computed from other options. */
  readonly defaultText?: string;
  /** Smallest accepted value (integer, number). */
  readonly min?: number;
  /** Largest accepted value (integer, number). */
  readonly max?: number;
  /** Accepted values of an `enum`, or of each item of a `list` of names. */
  readonly values?: readonly string[];
  /** Items of a `list`: IP addresses or CIDRs, host names or addresses, or one of `values`. */
  readonly items?: 'ip-or-cidr' | 'host' | 'enum';
  /** Most items of a `list`. */
  readonly maxItems?: number;
  /** A `boolean` that may also be an object of further entries (`accessLog: { query: true }`). */
  readonly orSection?: boolean;
  /** Words accepted besides a number (`auto` for `workers`). */
  readonly words?: readonly string[];
  /** Most characters of a `string`. */
  readonly maxLength?: number;
  /** A reload (SIGHUP, or a file change with `watchConfig`) applies it to new requests and sessions. */
  readonly live: boolean;
  /** Masked by `--check-config`. */
  readonly secret: boolean;
  /** The environment variable that overrides the file, if any. */
  readonly env?: string;
  /** A section that may be `false` to disable the part it configures (`admin: false`). */
  readonly canDisable?: boolean;
  /**
   * A section that exists only when configured (`trustStore.redis`): its defaults are not filled in, and
   * its variables apply only once it exists (set in the file, or by the variable of a `required` entry).
   */
  readonly optional?: boolean;
  /** An entry without which its optional section is incomplete (`trustStore.redis.url`). */
  readonly required?: boolean;
  /** Fewest characters of a `string`. Default 1. */
  readonly minLength?: number;
  /**
   * Read by the command itself, not passed to `ProxyServer` (`logLevel`, `workers`, the certificate
   * paths); `cluster`: passed only to the cluster primary (`PROXY_WORKERS` > 1).
   */
  readonly consumer?: 'command' | 'cluster';
}

/** Flags an entry may add to its builder's arguments. */
export type OptionFlags = Partial<
  Pick<OptionSpec, 'live' | 'secret' | 'env' | 'defaultText' | 'consumer' | 'words' | 'minLength' | 'maxLength' | 'canDisable' | 'optional' | 'required' | 'orSection' | 'maxItems'>
>;

function entry(path: string, type: OptionType, description: string, fields: Partial<OptionSpec>, flags: OptionFlags): OptionSpec {
  return Object.freeze({ path, type, description, live: false, secret: false, ...fields, ...flags });
}

/** An integer from `min` to `max`. */
export function integer(path: string, fallback: number | undefined, min: number, max: number, description: string, flags: OptionFlags = {}): OptionSpec {
  return entry(path, 'integer', description, { default: fallback, min, max }, flags);
}

/** A number (fractions allowed) from `min` to `max`. */
export function number(path: string, fallback: number, min: number, max: number, description: string, flags: OptionFlags = {}): OptionSpec {
  return entry(path, 'number', description, { default: fallback, min, max }, flags);
}

/** `true` or `false`. */
export function boolean(path: string, fallback: boolean | undefined, description: string, flags: OptionFlags = {}): OptionSpec {
  return entry(path, 'boolean', description, { default: fallback }, flags);
}

/** A string of `minLength` (default 1) to `maxLength` (default 256) characters. */
export function string(path: string, fallback: string | undefined, description: string, flags: OptionFlags = {}): OptionSpec {
  return entry(path, 'string', description, { default: fallback, maxLength: 256 }, flags);
}

/** A host name or IP address. */
export function host(path: string, fallback: string | undefined, description: string, flags: OptionFlags = {}): OptionSpec {
  return entry(path, 'host', description, { default: fallback }, flags);
}

/** One of `values`. */
export function oneOf(path: string, values: readonly string[], fallback: string, description: string, flags: OptionFlags = {}): OptionSpec {
  return entry(path, 'enum', description, { default: fallback, values }, flags);
}

/** A list of IPs/CIDRs, of host names or of names from `values`; comma-separated in its variable. */
export function list(path: string, items: 'ip-or-cidr' | 'host' | readonly string[], fallback: readonly string[], description: string, flags: OptionFlags = {}): OptionSpec {
  const fields: Partial<OptionSpec> = typeof items === 'string' ? { items } : { items: 'enum', values: items };
  return entry(path, 'list', description, { ...fields, default: fallback }, flags);
}

/** A file or directory path (relative to the working directory). */
export function filePath(path: string, fallback: string | undefined, description: string, flags: OptionFlags = {}): OptionSpec {
  return entry(path, 'path', description, { default: fallback }, flags);
}

/** An object of further entries. */
export function section(path: string, description: string, flags: OptionFlags = {}): OptionSpec {
  return entry(path, 'section', description, {}, flags);
}
