import { humanSize } from '../../cli/format.js';

/**
 * The few DOM helpers the report page is drawn with. Every byte count goes through
 * `bytes()`: Docker's units as text, the exact count on hover, and `data-bytes` (with
 * `data-num` naming which figure it is) for anyone who checks the page against the CLI.
 */
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export function bytes(n: number, key?: string): HTMLElement {
  return h('span', { class: 'num', 'data-bytes': n, 'data-num': key, title: `${n.toLocaleString('en-US')} bytes` }, humanSize(n));
}

/** A ratio as a percentage, the exact value on hover and in `data-value`. */
export function ratio(r: number, key?: string): HTMLElement {
  return h('span', { class: 'num', 'data-value': r, 'data-num': key, title: String(r) }, `${(r * 100).toFixed(2)} %`);
}

/** A count, in `data-value` too when it is a figure the CLI reports. */
export function count(n: number, key?: string): HTMLElement {
  return h('span', { 'data-value': n, 'data-num': key }, String(n));
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export interface Column<Row> {
  title: string;
  /** What the cell shows. */
  cell: (row: Row) => Node | string;
  /** What the column sorts by; a column without one does not sort. */
  key?: (row: Row) => number | string;
  numeric?: boolean;
}

/**
 * A table whose headers sort it (the first numeric column, largest first, by default),
 * the equivalent every chart of the page has.
 */
export function sortableTable<Row>(columns: Column<Row>[], rows: Row[], attrs: Record<string, string> = {}): HTMLTableElement {
  const table = h('table', attrs);
  const body = h('tbody');
  let sortBy = columns.findIndex((c) => c.numeric && c.key);
  let descending = true;
  const heads = columns.map((c, i) => {
    const th = h('th', { scope: 'col', class: c.numeric ? 'n' : undefined }, c.title);
    if (c.key) {
      th.classList.add('sortable');
      th.tabIndex = 0;
      const choose = () => {
        descending = sortBy === i ? !descending : c.numeric === true;
        sortBy = i;
        draw();
      };
      th.addEventListener('click', choose);
      th.addEventListener('keydown', (e) => e.key === 'Enter' && choose());
    }
    return th;
  });
  const draw = () => {
    const key = columns[sortBy]?.key;
    const sorted = key === undefined ? rows : [...rows].sort((a, b) => compare(key(a), key(b)) * (descending ? -1 : 1));
    for (const [i, th] of heads.entries()) th.setAttribute('aria-sort', i === sortBy ? (descending ? 'descending' : 'ascending') : 'none');
    body.replaceChildren(
      ...sorted.map((r) => h('tr', {}, ...columns.map((c) => h('td', { class: c.numeric ? 'n' : undefined }, c.cell(r))))),
    );
  };
  table.append(h('thead', {}, h('tr', {}, ...heads)), body);
  draw();
  return table;
}

function compare(a: number | string, b: number | string): number {
  return typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
