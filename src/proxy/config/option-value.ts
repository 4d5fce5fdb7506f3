/**
 * Checks one value against its schema entry, and parses one environment variable by it. One message
 * style for both: "expected <what the entry accepts>, got <the value>".
 */
import { isIP } from 'node:net';
import type { OptionSpec } from './option-spec.js';

const HOST = /^[A-Za-z0-9.:\-[\]]{1,253}$/;

/** What an entry accepts, as the error messages and the docs say it. */
export function expectedText(spec: OptionSpec): string {
  switch (spec.type) {
    case 'integer': {
      const words = spec.words === undefined ? '' : ` or ${spec.words.join(', ')}`;
      return `an integer from ${spec.min} to ${spec.max}${words}`;
    }
    case 'number':
      return `a number from ${spec.min} to ${spec.max}`;
    case 'boolean':
      return spec.orSection === true ? 'true, false or an object of options' : 'true or false';
    case 'string':
      return `a string of ${spec.minLength ?? 1} to ${spec.maxLength ?? 256} characters`;
    case 'host':
      return 'a host name or IP address';
    case 'enum':
      return `one of ${(spec.values ?? []).join(', ')}`;
    case 'list': {
      const most = spec.maxItems === undefined ? '' : ` (at most ${spec.maxItems})`;
      if (spec.items === 'ip-or-cidr') return `a list of IP addresses or CIDRs${most}`;
      if (spec.items === 'host') return `a list of host names or IP addresses${most}`;
      return `a list of ${(spec.values ?? []).join(', ')}${most}`;
    }
    case 'path':
      return 'a file path';
    case 'section':
      return spec.canDisable === true ? 'an object of options, or false' : 'an object of options';
  }
}

function show(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isIpOrCidr(item: unknown): boolean {
  if (typeof item !== 'string') return false;
  const [address = '', prefix, extra] = item.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
}

function acceptsItem(spec: OptionSpec, item: unknown): boolean {
  if (spec.items === 'ip-or-cidr') return isIpOrCidr(item);
  if (spec.items === 'host') return typeof item === 'string' && HOST.test(item);
  return typeof item === 'string' && (spec.values ?? []).includes(item);
}

function accepts(spec: OptionSpec, value: unknown): boolean {
  switch (spec.type) {
    case 'integer':
      if (typeof value === 'string' && spec.words?.includes(value) === true) return true;
      return typeof value === 'number' && Number.isInteger(value) && value >= (spec.min ?? -Infinity) && value <= (spec.max ?? Infinity);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) && value >= (spec.min ?? -Infinity) && value <= (spec.max ?? Infinity);
    case 'boolean':
      return typeof value === 'boolean' || (spec.orSection === true && typeof value === 'object' && value !== null && !Array.isArray(value));
    case 'string':
      return typeof value === 'string' && value.length >= (spec.minLength ?? 1) && value.length <= (spec.maxLength ?? 256);
    case 'host':
      return typeof value === 'string' && HOST.test(value);
    case 'enum':
      return typeof value === 'string' && (spec.values ?? []).includes(value);
    case 'list':
      return Array.isArray(value) && value.length <= (spec.maxItems ?? Infinity) && value.every((item) => acceptsItem(spec, item));
    case 'path':
      return typeof value === 'string' && value.length > 0 && value.length <= 4096 && !value.includes('\0');
    case 'section':
      return (typeof value === 'object' && value !== null && !Array.isArray(value)) || (spec.canDisable === true && value === false);
  }
}

/** Undefined when `value` fits `spec`, else the message: "expected ..., got ..." (a secret is never echoed). */
export function checkValue(spec: OptionSpec, value: unknown): string | undefined {
  if (accepts(spec, value)) return undefined;
  return `expected ${expectedText(spec)}, got ${spec.secret && typeof value === 'string' ? 'another value (not shown: a secret)' : show(value)}`;
}

/**
 * Turns a variable's text into the value the file would hold (`"3080"` -> 3080, `"a, b"` -> `["a",
 * "b"]`, `"true"` -> true), then checks it. Returns the value, or the error message.
 */
export function parseVariable(spec: OptionSpec, raw: string): { value: unknown } | { error: string } {
  let value: unknown = raw;
  if ((spec.type === 'integer' || spec.type === 'number') && spec.words?.includes(raw) !== true) {
    value = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  } else if (spec.type === 'boolean') {
    value = raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
  } else if (spec.type === 'list') {
    value = raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
  }
  const error = checkValue(spec, value);
  if (error === undefined) return { value };
  // A variable holds a word, never an object: say only what it may be.
  if (spec.type === 'boolean') return { error: `expected true or false, got ${show(raw)}` };
  return { error: spec.type === 'list' && !spec.secret ? `expected comma-separated ${expectedText(spec).replace(/^a list of /, '')}, got ${show(raw)}` : error };
}
