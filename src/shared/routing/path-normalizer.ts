/**
 * Normalises the request target before routing, so that a rule is matched against the path the backend
 * will actually see: percent-encoded unreserved characters are decoded (`/%61pi` is `/api`), dot segments
 * are resolved (RFC 3986 section 5.2.4) and empty segments collapsed. `/api/../admin` therefore routes
 * (and is forwarded) as `/admin`, never as `/api`. Requests that cannot be normalised safely are refused:
 * malformed percent-encoding, and dot segments hidden behind an encoded or backslash separator
 * (`/api/..%2Fadmin`), which some backends decode into a traversal after the proxy has routed.
 *
 * The common case (no `%`, no `\`, no `//`, no segment starting with `.`) returns the input string
 * itself: no allocation on the hot path.
 */

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const BACKSLASH = 0x5c;
const QUESTION = 0x3f;
const HASH = 0x23;

/** Characters RFC 3986 calls unreserved; their percent-encoded form is equivalent and decoded here. */
const UNRESERVED = new Uint8Array(128);
for (let code = 0; code < 128; code += 1) {
  const char = String.fromCharCode(code);
  UNRESERVED[code] = /[A-Za-z0-9\-._~]/.test(char) ? 1 : 0;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/** Index where the path of a request target ends (`?`, `#` or the end). */
export function pathEnd(target: string): number {
  for (let index = 0; index < target.length; index += 1) {
    const code = target.charCodeAt(index);
    if (code === QUESTION || code === HASH) return index;
  }
  return target.length;
}

/**
 * Returns the normalised request target (path plus the untouched query), or `undefined` when the
 * target must be refused with 400: it does not start with `/`, has malformed percent-encoding, or hides
 * a dot segment behind an encoded slash or a backslash.
 */
export function normalizeTarget(target: string): string | undefined {
  if (target.charCodeAt(0) !== SLASH) return undefined;
  const end = pathEnd(target);
  let needsWork = false;
  for (let index = 0; index < end; index += 1) {
    const code = target.charCodeAt(index);
    if (code === PERCENT || code === BACKSLASH) {
      needsWork = true;
      break;
    }
    if (code === SLASH) {
      const next = target.charCodeAt(index + 1);
      if (next === SLASH || next === DOT) {
        needsWork = true;
        break;
      }
    }
  }
  // A fragment is never sent by conforming clients; drop it rather than forward it.
  const rest = end < target.length && target.charCodeAt(end) === QUESTION ? target.slice(end) : '';
  if (!needsWork) return end === target.length ? target : target.slice(0, end) + rest;
  const path = normalizePath(target.slice(0, end));
  return path === undefined ? undefined : path + rest;
}

/** Normalises a path (no query); `undefined` when it must be refused. Exported for rule parsing. */
export function normalizePath(raw: string): string | undefined {
  const decoded = decodeUnreserved(raw);
  if (decoded === undefined) return undefined;
  if (hidesTraversal(decoded)) return undefined;
  const segments = decoded.split('/');
  const output: string[] = [];
  const last = segments.length - 1;
  let trailingSlash = false;
  for (let index = 1; index <= last; index += 1) {
    const segment = segments[index] as string;
    if (segment === '' || segment === '.') {
      trailingSlash = index === last;
    } else if (segment === '..') {
      output.pop();
      trailingSlash = index === last;
    } else {
      output.push(segment);
      trailingSlash = false;
    }
  }
  if (output.length === 0) return '/';
  const joined = `/${output.join('/')}`;
  return trailingSlash ? `${joined}/` : joined;
}

/** Decodes `%XX` for unreserved characters and upper-cases the hex of the others; undefined if malformed. */
function decodeUnreserved(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  let output = '';
  let from = 0;
  for (let index = raw.indexOf('%'); index !== -1; index = raw.indexOf('%', from)) {
    const high = hexValue(raw.charCodeAt(index + 1));
    const low = hexValue(raw.charCodeAt(index + 2));
    if (high < 0 || low < 0) return undefined;
    const byte = high * 16 + low;
    output += raw.slice(from, index);
    output += byte < 128 && UNRESERVED[byte] === 1 ? String.fromCharCode(byte) : raw.slice(index, index + 3).toUpperCase();
    from = index + 3;
  }
  return output + raw.slice(from);
}

/**
 * True when splitting on every spelling of a separator (`/`, `%2F`, `\`, `%5C`) reveals a `.` or `..`
 * segment that splitting on `/` alone does not: a traversal the backend may decode after routing.
 */
function hidesTraversal(path: string): boolean {
  if (!path.includes('\\') && !path.includes('%2F') && !path.includes('%5C')) return false;
  const parts = path.replaceAll('%2F', '/').replaceAll('%5C', '/').replaceAll('\\', '/').split('/');
  for (const part of parts) {
    if (part === '.' || part === '..') return true;
  }
  return false;
}

/** An absolute-form request target split into its authority and origin-form target. */
export interface AbsoluteForm {
  /** `host[:port]` as sent. */
  readonly authority: string;
  /** The path and query, starting with `/`. */
  readonly target: string;
}

/**
 * Splits an absolute-form target (`http://host:port/path?q`, RFC 9112 section 3.2.2, which a server must
 * accept); undefined for anything else. The authority then replaces the Host header.
 */
export function splitAbsoluteForm(url: string): AbsoluteForm | undefined {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd === -1) return undefined;
  const scheme = url.slice(0, schemeEnd).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return undefined;
  const start = schemeEnd + 3;
  let end = start;
  while (end < url.length) {
    const code = url.charCodeAt(end);
    if (code === SLASH || code === QUESTION || code === HASH) break;
    end += 1;
  }
  const authority = url.slice(start, end);
  // Userinfo is deprecated (RFC 9110 section 4.2.4) and a classic way to disguise the real host.
  if (authority === '' || authority.includes('@')) return undefined;
  const rest = url.slice(end);
  return { authority, target: rest.charCodeAt(0) === SLASH ? rest : `/${rest}` };
}
