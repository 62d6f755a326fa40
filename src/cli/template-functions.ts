/**
 * The functions strata's templates offer: Go's text/template builtins that --format
 * strings use (len, index, slice, print, printf, println, and, or, not, eq, ne, lt,
 * le, gt, ge) and docker's additions (json, join, split, title, lower, upper, pad,
 * truncate), with Go's way of printing values.
 */

/**
 * A struct's Go type as errors name it (`can't evaluate field X in type image`), set
 * on the objects a listing gives its template; a symbol, so `{{json .}}` never shows it.
 */
export const GO_TYPE = Symbol('go type');

/** Go field names whose values are maps in docker's types: a missing key there is `<no value>`, not an error. */
const MAP_FIELDS = new Set([
  'Labels',
  'Data',
  'Options',
  'Volumes',
  'ExposedPorts',
  'Tmpfs',
  'DriverOpts',
  'Ports',
  'Networks',
  'Annotations',
  'Sysctls',
  'StorageOpt',
  'Metadata',
]);

/** Whether an object stands for a Go map (keys sorted, missing keys allowed) rather than a struct. */
export function isGoMap(value: object, fieldName?: string): boolean {
  if (fieldName !== undefined && MAP_FIELDS.has(fieldName)) return true;
  const keys = Object.keys(value);
  return keys.length === 0 || keys.some((k) => !/^[A-Z]\w*$/.test(k));
}

/**
 * How Go's fmt prints a value with %v: `[a b]` for slices, `map[k:v]` (sorted) for maps,
 * `{v1 v2}` for structs; `nested` is false only for the value of a whole action, where
 * Go prints a missing value as `<no value>` instead of `<nil>`.
 */
export function goString(value: unknown, nested = false, fieldName?: string): string {
  if (value === null || value === undefined) return nested ? '<nil>' : '<no value>';
  if (Array.isArray(value)) return `[${value.map((v) => goString(v, true)).join(' ')}]`;
  if (typeof value === 'object') {
    if (isGoMap(value, fieldName)) {
      const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `map[${entries.map(([k, v]) => `${k}:${goString(v, true, k)}`).join(' ')}]`;
    }
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => goString(v, true, k))
      .join(' ')}}`;
  }
  return String(value);
}

/** Go's truth: false for false, 0, "", nil and empty slices and maps. */
export function truth(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return !isGoMap(value) || Object.keys(value).length > 0;
  return Boolean(value);
}

/** Go's type name for a decoded value, as fmt's `%!d(string=x)` and errors show it. */
export function goType(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (Array.isArray(value)) return '[]interface {}';
  if (typeof value === 'object') return 'map[string]interface {}';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float64';
  return typeof value;
}

/** What a function throws; template.ts adds `error calling NAME:` and where. */
export class FunctionError extends Error {}

type TemplateFunction = (...args: unknown[]) => unknown;
interface FunctionSpec {
  min: number;
  max: number;
  call: TemplateFunction;
}

const str = (v: unknown) => (typeof v === 'string' ? v : goString(v, true));

function length(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v !== null && typeof v === 'object') return Object.keys(v).length;
  throw new FunctionError(`len of type ${goType(v)}`);
}

function index(item: unknown, ...keys: unknown[]): unknown {
  let value = item;
  for (const key of keys) {
    if (value === null || value === undefined) throw new FunctionError('index of untyped nil');
    if (Array.isArray(value) || typeof value === 'string') {
      if (typeof key !== 'number' || !Number.isInteger(key)) throw new FunctionError(`cannot index slice/array with type ${goType(key)}`);
      const size = Array.isArray(value) ? value.length : Buffer.byteLength(value);
      if (key < 0 || key >= size) throw new FunctionError(`index out of range: ${key}`);
      value = Array.isArray(value) ? value[key] : Buffer.from(value)[key];
    } else if (typeof value === 'object') {
      if (typeof key !== 'string') throw new FunctionError(`value has type ${goType(key)}; should be string`);
      value = Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
    } else {
      throw new FunctionError(`can't index item of type ${goType(value)}`);
    }
  }
  return value;
}

function slice(item: unknown, ...bounds: unknown[]): unknown {
  if (!Array.isArray(item) && typeof item !== 'string') throw new FunctionError(`can't slice item of type ${goType(item)}`);
  const size = Array.isArray(item) ? item.length : Buffer.byteLength(item);
  const [from = 0, to = size] = bounds as number[];
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > size || from > to)
    throw new FunctionError(`index out of range: ${from}:${to}`);
  return Array.isArray(item) ? item.slice(from, to) : Buffer.from(item).subarray(from, to).toString();
}

function comparable(a: unknown, b: unknown, ordered: boolean): void {
  const kind = (v: unknown) => (v === null || v === undefined ? 'nil' : typeof v);
  for (const v of [a, b]) {
    if (v !== null && typeof v === 'object') throw new FunctionError(`non-comparable type ${goString(v, true)}: ${goType(v)}`);
  }
  if (kind(a) !== kind(b)) throw new FunctionError('incompatible types for comparison');
  if (ordered && kind(a) !== 'number' && kind(a) !== 'string') throw new FunctionError('invalid type for comparison');
}

function less(a: unknown, b: unknown): boolean {
  comparable(a, b, true);
  return (a as number) < (b as number);
}

/** fmt.Sprint: a space between operands when neither is a string. */
function sprint(args: unknown[]): string {
  return args.map((v, i) => (i > 0 && typeof v !== 'string' && typeof args[i - 1] !== 'string' ? ' ' : '') + str(v)).join('');
}

/** fmt.Sprintf for the verbs --format strings use: %v %s %d %q %x %X %t %f %e %g %%, with flags, width and precision. */
export function sprintf(format: string, args: unknown[]): string {
  let next = 0;
  const out = format.replace(
    /%([-+# 0]*)(\d*)(?:\.(\d*))?([a-zA-Z%])/g,
    (_all, flags: string, width: string, precision: string | undefined, verb: string) => {
      if (verb === '%') return '%';
      if (next >= args.length) return `%!${verb}(MISSING)`;
      const value = args[next++];
      const text = formatVerb(verb, value, flags, precision === undefined ? undefined : Number(precision || 0));
      const w = Number(width || 0);
      if (text.length >= w) return text;
      if (flags.includes('-')) return text.padEnd(w);
      if (flags.includes('0') && /[dfeEgxX]/.test(verb) && typeof value === 'number') {
        const sign = /^[-+]/.test(text) ? text[0]! : '';
        return sign + text.slice(sign.length).padStart(w - sign.length, '0');
      }
      return text.padStart(w);
    },
  );
  const extra = args.slice(next);
  return extra.length === 0
    ? out
    : `${out}%!(EXTRA ${extra.map((v) => (v === null || v === undefined ? '<nil>' : `${goType(v)}=${str(v)}`)).join(', ')})`;
}

function formatVerb(verb: string, value: unknown, flags: string, precision?: number): string {
  const bad = () => `%!${verb}(${goType(value)}=${str(value)})`;
  const sign = (n: number, text: string) => (flags.includes('+') && n >= 0 ? `+${text}` : text);
  switch (verb) {
    case 'v':
      return goString(value, true);
    case 's':
      if (typeof value === 'number' || typeof value === 'boolean') return bad();
      return precision === undefined ? str(value) : [...str(value)].slice(0, precision).join('');
    case 'q':
      return typeof value === 'string' ? JSON.stringify(value) : bad();
    case 't':
      return typeof value === 'boolean' ? String(value) : bad();
    case 'd':
      return typeof value === 'number' && Number.isInteger(value) ? sign(value, String(value)) : bad();
    case 'x':
    case 'X': {
      let text: string;
      if (typeof value === 'number' && Number.isInteger(value)) text = value < 0 ? `-${(-value).toString(16)}` : value.toString(16);
      else if (typeof value === 'string') text = Buffer.from(value).toString('hex');
      else return bad();
      return verb === 'X' ? text.toUpperCase() : text;
    }
    case 'f':
    case 'F':
      return typeof value === 'number' ? sign(value, value.toFixed(precision ?? 6)) : bad();
    case 'e':
      return typeof value === 'number' ? sign(value, value.toExponential(precision ?? 6).replace(/e([-+])(\d)$/, 'e$10$2')) : bad();
    case 'g':
      return typeof value === 'number' ? sign(value, String(value)) : bad();
    default:
      return `%!${verb}(${goType(value)}=${str(value)})`;
  }
}

/** docker's json: encoding/json without HTML escaping, no trailing newline. */
function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}

export const TEMPLATE_FUNCTIONS: Record<string, FunctionSpec> = {
  json: { min: 1, max: 1, call: json },
  join: {
    min: 2,
    max: 2,
    call: (list, sep) => {
      if (!Array.isArray(list)) throw new FunctionError(`wrong type for value; expected []string; got ${goType(list)}`);
      return list.map(str).join(str(sep));
    },
  },
  split: { min: 2, max: 2, call: (s, sep) => (str(sep) === '' ? [...str(s)] : str(s).split(str(sep))) },
  title: {
    min: 1,
    max: 1,
    call: (s) => str(s).replace(/(^|[^\p{L}\p{N}_])(\p{L})/gu, (_m, before: string, letter: string) => before + letter.toUpperCase()),
  },
  lower: { min: 1, max: 1, call: (s) => str(s).toLowerCase() },
  upper: { min: 1, max: 1, call: (s) => str(s).toUpperCase() },
  pad: { min: 3, max: 3, call: (s, before, after) => ' '.repeat(Number(before)) + str(s) + ' '.repeat(Number(after)) },
  truncate: { min: 2, max: 2, call: (s, n) => (str(s).length < Number(n) ? str(s) : str(s).slice(0, Number(n))) },
  len: { min: 1, max: 1, call: length },
  index: { min: 1, max: Infinity, call: index },
  slice: { min: 1, max: 3, call: slice },
  print: { min: 0, max: Infinity, call: (...args) => sprint(args) },
  println: { min: 0, max: Infinity, call: (...args) => `${args.map(str).join(' ')}\n` },
  printf: { min: 1, max: Infinity, call: (format, ...args) => sprintf(str(format), args) },
  not: { min: 1, max: 1, call: (v) => !truth(v) },
  and: { min: 1, max: Infinity, call: (...args) => args.find((v) => !truth(v)) ?? args[args.length - 1] },
  or: { min: 1, max: Infinity, call: (...args) => args.find(truth) ?? args[args.length - 1] },
  eq: {
    min: 2,
    max: Infinity,
    call: (a, ...others) =>
      others.some((b) => {
        comparable(a, b, false);
        return (a ?? null) === (b ?? null);
      }),
  },
  ne: {
    min: 2,
    max: 2,
    call: (a, b) => {
      comparable(a, b, false);
      return (a ?? null) !== (b ?? null);
    },
  },
  lt: { min: 2, max: 2, call: (a, b) => less(a, b) },
  le: { min: 2, max: 2, call: (a, b) => less(a, b) || a === b },
  gt: { min: 2, max: 2, call: (a, b) => less(b, a) },
  ge: { min: 2, max: 2, call: (a, b) => less(b, a) || a === b },
};
