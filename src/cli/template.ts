import { StrataError } from '../errors.js';

/**
 * A documented subset of Go's text/template, enough for the `--format` strings
 * people use with docker:
 *   {{.Field.Sub}}            a value, printed the way Go prints it ([a b], map[k:v])
 *   {{json .Field}} {{json .}} JSON of a value
 *   {{join .List ", "}}       a list joined with a separator
 *   {{index .Map "key"}}      a map entry (keys that are not identifiers)
 *   {{upper .X}} {{lower .X}} {{len .X}}
 * and the `table` prefix, which prints a header row and aligns columns. Text outside
 * actions is copied, with `\t` and `\n` escapes understood as docker does.
 */
type Piece = { text: string } | { action: string[] };

export interface CompiledTemplate {
  isTable: boolean;
  render(value: unknown): string;
  header(): string;
}

export function compileTemplate(source: string): CompiledTemplate {
  let body = source;
  const isTable = /^table\s/.test(body) || body === 'table';
  if (isTable) body = body.replace(/^table\s?/, '');
  body = body.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const pieces = parse(body, source);
  return {
    isTable,
    render: (value) => pieces.map((p) => ('text' in p ? p.text : evaluate(p.action, value, source))).join(''),
    header: () => pieces.map((p) => ('text' in p ? p.text : headerOf(p.action))).join(''),
  };
}

function parse(body: string, source: string): Piece[] {
  const pieces: Piece[] = [];
  let rest = body;
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    if (open < 0) { pieces.push({ text: rest }); break; }
    if (open > 0) pieces.push({ text: rest.slice(0, open) });
    const close = rest.indexOf('}}', open);
    if (close < 0) throw new StrataError('EUSAGE', `template: unclosed action in ${JSON.stringify(source)}`);
    const inner = rest.slice(open + 2, close).replace(/^-\s*|\s*-$/g, '').trim();
    pieces.push({ action: tokenize(inner, source) });
    rest = rest.slice(close + 2);
  }
  return pieces;
}

function tokenize(inner: string, source: string): string[] {
  const tokens = inner.match(/"(?:[^"\\]|\\.)*"|\S+/g);
  if (!tokens) throw new StrataError('EUSAGE', `template: empty action in ${JSON.stringify(source)}`);
  return tokens;
}

const FUNCTIONS: Record<string, (args: unknown[]) => unknown> = {
  json: ([v]) => JSON.stringify(v ?? null),
  join: ([list, sep]) => (Array.isArray(list) ? list.map(goString).join(String(sep ?? '')) : goString(list)),
  index: ([v, key]) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[String(key)] : undefined),
  upper: ([v]) => goString(v).toUpperCase(),
  lower: ([v]) => goString(v).toLowerCase(),
  len: ([v]) => (Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0),
};

function evaluate(tokens: string[], dot: unknown, source: string): string {
  const [head, ...args] = tokens;
  if (head!.startsWith('.')) {
    if (args.length > 0) throw new StrataError('EUSAGE', `template: unexpected ${args[0]} in ${JSON.stringify(source)}`);
    return goString(field(dot, head!, source));
  }
  const fn = FUNCTIONS[head!];
  if (!fn) throw new StrataError('EUSAGE', `template: function "${head}" not defined (supported: ${Object.keys(FUNCTIONS).join(', ')})`);
  return goString(fn(args.map((a) => argument(a, dot, source))));
}

function argument(token: string, dot: unknown, source: string): unknown {
  if (token.startsWith('"')) return JSON.parse(token);
  if (token.startsWith('.')) return field(dot, token, source);
  if (/^-?\d+$/.test(token)) return Number(token);
  throw new StrataError('EUSAGE', `template: cannot use ${token} in ${JSON.stringify(source)}`);
}

function field(dot: unknown, pathText: string, source: string): unknown {
  if (pathText === '.') return dot;
  let value = dot;
  const names = pathText.slice(1).split('.');
  for (const [depth, name] of names.entries()) {
    if (value === null || typeof value !== 'object') {
      throw new StrataError('EUSAGE', `template: can't evaluate field ${name} in ${JSON.stringify(source)}`);
    }
    if (!(name in (value as object))) {
      // Like Go: a missing field of the top-level object is an error, a missing key of
      // a nested map (GraphDriver.Data.LowerDir of a one-layer image) is `<no value>`.
      if (depth === 0) throw new StrataError('EUSAGE', `template: can't evaluate field ${name} in ${JSON.stringify(source)}`);
      return undefined;
    }
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

/** How Go's fmt prints a value with %v. */
export function goString(value: unknown): string {
  if (value === null || value === undefined) return '<no value>';
  if (Array.isArray(value)) return `[${value.map(goString).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
    return `map[${entries.map(([k, v]) => `${k}:${goString(v)}`).join(' ')}]`;
  }
  return String(value);
}

/** Docker's table headers are the field names in upper case with spaces (`.CreatedSince` → CREATED). */
function headerOf(tokens: string[]): string {
  const last = [...tokens].reverse().find((t) => t.startsWith('.')) ?? tokens[0]!;
  const name = last.split('.').pop() || last;
  return HEADERS[name] ?? name.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
}

const HEADERS: Record<string, string> = {
  ID: 'IMAGE ID', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Names: 'NAMES', RunningFor: 'CREATED',
};
