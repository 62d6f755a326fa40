import { StrataError } from './errors.js';

/**
 * `--filter key=value` arguments as Docker's api/types/filters holds them: a set of
 * values per key. The matching rules are Docker's own, and they differ by key
 * (src/container/filter.ts and src/image/filter.ts say which each key uses): most
 * keys match when any of their values does, `label` only when all of them do.
 */
export class FilterArgs {
  private readonly fields = new Map<string, Set<string>>();

  add(key: string, value: string): this {
    const values = this.fields.get(key) ?? new Set<string>();
    values.add(value);
    this.fields.set(key, values);
    return this;
  }

  get(key: string): string[] {
    return [...(this.fields.get(key) ?? [])];
  }

  contains(key: string): boolean {
    return this.fields.has(key);
  }

  keys(): string[] {
    return [...this.fields.keys()];
  }

  /** Docker's wording for a key the listing does not know: `Invalid filter 'foo'`. */
  validate(accepted: readonly string[]): void {
    for (const key of this.fields.keys()) {
      if (!accepted.includes(key)) throw invalidFilter(key);
    }
  }

  /** True when the key is unset, or `source` equals one of its values. */
  exactMatch(key: string, source: string): boolean {
    const values = this.fields.get(key);
    return values === undefined || values.size === 0 || values.has(source);
  }

  /**
   * True when the key is unset, or one of its values equals `source` or, as a
   * regular expression, matches somewhere in it (unanchored, as Go's
   * regexp.MatchString). A value that is no valid expression matches nothing more.
   */
  match(key: string, source: string): boolean {
    if (this.exactMatch(key, source)) return true;
    for (const pattern of this.get(key)) {
      if (goRegExp(pattern)?.test(source)) return true;
    }
    return false;
  }

  /** `label=k` and `label=k=v`: every value must be among `labels` (Docker's MatchKVList). */
  matchKeyValues(key: string, labels: Record<string, string> | null | undefined): boolean {
    const values = this.get(key);
    if (values.length === 0) return true;
    const source = labels ?? {};
    if (Object.keys(source).length === 0) return false;
    return values.every((value) => {
      const eq = value.indexOf('=');
      const name = eq < 0 ? value : value.slice(0, eq);
      if (!Object.hasOwn(source, name)) return false;
      return eq < 0 || source[name] === value.slice(eq + 1);
    });
  }
}

/**
 * Docker's error for a bad key or value: `Invalid filter 'status=foo'`. Several
 * values print as Go prints a []string (`dangling=[yes no]`), as the daemon does.
 */
export function invalidFilter(key: string, value?: string | string[]): StrataError {
  const shown = value === undefined ? '' : `=${Array.isArray(value) ? `[${value.join(' ')}]` : value}`;
  return new StrataError('EUSAGE', `Invalid filter '${key}${shown}'`, { path: key });
}

/**
 * A Go (RE2) expression as a JavaScript RegExp, or null when it is not valid. The
 * two syntaxes agree on what people write in filters (`^web`, `db[0-9]+$`); Go's
 * leading flag group `(?i)` becomes a RegExp flag, as JavaScript has no inline flags.
 */
function goRegExp(pattern: string): RegExp | null {
  const flags = /^\(\?([ims]+)\)/.exec(pattern);
  try {
    return flags ? new RegExp(pattern.slice(flags[0].length), flags[1]) : new RegExp(pattern);
  } catch {
    return null;
  }
}
