import type { ContainerRecord } from '../container/record.js';

/**
 * Docker's text conventions, so output reads (and parses) like docker's:
 * go-units sizes and durations, and the tabwriter column layout of docker/cli.
 */
const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/**
 * go-units HumanSizeWithPrecision: base 1000, `%.<precision>g`. Docker prints most sizes
 * with 4 significant digits (HumanSize) and image, history and container sizes with 3.
 * The value is divided by 1000 step by step exactly as go-units does, so the same bytes
 * give the same float and the same text (`999999` with 3 digits is `1e+03kB`).
 */
export function humanSize(bytes: number, precision = 4): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < DECIMAL_UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${formatG(value, precision)}${DECIMAL_UNITS[unit]}`;
}

/**
 * Go's `%.<precision>g` for a finite value: `precision` significant digits, rounded half
 * to even on the double's exact decimal value (as strconv does), trailing zeros dropped,
 * and the exponent form (`1e+03`) when the exponent is < -4 or >= precision.
 */
export function formatG(value: number, precision: number): string {
  if (value === 0) return '0';
  const sign = value < 0 ? '-' : '';
  const { digits, exponent } = roundHalfEven(exactDecimal(Math.abs(value)), precision);
  if (exponent < -4 || exponent >= precision) {
    const mantissa = trimFraction(`${digits[0]}.${digits.slice(1)}`);
    return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}${trimFraction(`0.${'0'.repeat(-exponent - 1)}${digits}`)}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return `${sign}${fraction === '' ? whole : trimFraction(`${whole}.${fraction}`)}`;
}

/** Every decimal digit of a positive double, and the power of ten of the first one. */
function exactDecimal(value: number): { digits: string; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  // value = mantissa × 2^power, exactly.
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const power = (biased === 0 ? 1 : biased) - 1075;
  // 2^-k = 5^k / 10^k, so a negative power of two is a whole number over a power of ten.
  const whole = power >= 0 ? mantissa << BigInt(power) : mantissa * 5n ** BigInt(-power);
  const scale = power >= 0 ? 0 : -power;
  const digits = whole.toString();
  return { digits, exponent: digits.length - 1 - scale };
}

function roundHalfEven(exact: { digits: string; exponent: number }, precision: number): { digits: string; exponent: number } {
  const { digits, exponent } = exact;
  if (digits.length <= precision) return exact;
  const kept = digits.slice(0, precision);
  const next = digits[precision]!;
  const restIsZero = /^0*$/.test(digits.slice(precision + 1));
  const lastIsOdd = Number(kept[kept.length - 1]) % 2 === 1;
  const up = next > '5' || (next === '5' && (!restIsZero || lastIsOdd));
  if (!up) return { digits: kept, exponent };
  const rounded = (BigInt(kept) + 1n).toString();
  // 999 → 1000: one more digit, one higher exponent.
  return rounded.length > precision ? { digits: rounded.slice(0, precision), exponent: exponent + 1 } : { digits: rounded, exponent };
}

function trimFraction(text: string): string {
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

/**
 * Go's `time.Unix(t, 0).Format(time.RFC3339)` as docker/cli prints a date when not
 * asked for human text: whole seconds, in the local time zone (`Z` for UTC).
 */
export function rfc3339(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const date = new Date(Math.floor(ms / 1000) * 1000);
  const offset = -date.getTimezoneOffset();
  const pad = (n: number) => String(n).padStart(2, '0');
  const local = new Date(date.getTime() + offset * 60_000);
  const zone = offset === 0 ? 'Z' : `${offset > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${local.toISOString().slice(0, 19)}${zone}`;
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
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, Math.max(10, [...cell].length + 3));
    });
  }
  return `${rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! - ([...cell].length - cell.length))))
        .join('')
        .trimEnd(),
    )
    .join('\n')}\n`;
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
