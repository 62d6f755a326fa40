import type { ContainerRecord } from '../container/record.js';

/**
 * Docker's text conventions, so output reads (and parses) like docker's:
 * go-units sizes and durations, and the tabwriter column layout of docker/cli.
 */
const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** go-units HumanSizeWithPrecision: base 1000, `%.<precision>g`. */
export function humanSize(bytes: number, precision = 4): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < DECIMAL_UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${formatG(value, precision)}${DECIMAL_UNITS[unit]}`;
}

/** Go's %.<p>g for the small positive values humanSize produces: no exponent, no trailing zeros. */
function formatG(value: number, precision: number): string {
  const text = value.toPrecision(precision);
  if (text.includes('e')) return String(Number(text));
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** go-units HumanDuration, as in `44 seconds ago`. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

export function since(iso: string, now = Date.now()): string {
  const then = Date.parse(iso);
  return Number.isNaN(then) ? 'N/A' : `${humanDuration(Math.max(0, now - then))} ago`;
}

/**
 * docker/cli's tabwriter (minwidth 10, padding 3): every column but the last is as
 * wide as its widest cell plus three spaces, and never narrower than ten.
 */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, Math.max(10, [...cell].length + 3)); });
  }
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! - ([...cell].length - cell.length)))).join('').trimEnd()).join('\n') + '\n';
}

/** Docker truncates long text with an ellipsis in table output (`--no-trunc` keeps it). */
export function ellipsis(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** Docker's STATUS column: `Created`, `Up 5 seconds`, `Exited (0) 3 minutes ago`. */
export function containerStatus(c: ContainerRecord, now = Date.now()): string {
  if (c.state.status === 'running') return `Up ${humanDuration(now - Date.parse(c.state.startedAt ?? c.created))}`;
  if (c.state.status === 'exited') return `Exited (${c.state.exitCode}) ${since(c.state.finishedAt ?? c.created, now)}`;
  return 'Created';
}
