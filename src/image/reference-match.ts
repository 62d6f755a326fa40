import { StrataError } from '../errors.js';

/**
 * `images --filter reference=PATTERN`, as Docker's reference.FamiliarMatch: a shell
 * pattern with Go's path.Match rules, matched against the familiar reference
 * (`app:1.0`) and then against its repository alone (`app`).
 */
export function familiarMatch(pattern: string, familiarRef: string): boolean {
  const re = compilePathPattern(pattern);
  if (re.test(familiarRef)) return true;
  const colon = familiarRef.lastIndexOf(':');
  // The tag's colon is the last one after the last `/` (a registry port has one too).
  const repository = colon > familiarRef.lastIndexOf('/') ? familiarRef.slice(0, colon) : familiarRef;
  return re.test(repository);
}

/**
 * Go's path.Match pattern as an anchored RegExp: `*` is any run of non-`/`
 * characters, `?` one non-`/` character, `[...]`/`[^...]` a class with ranges, `\`
 * escapes. A malformed pattern is Go's ErrBadPattern, "syntax error in pattern".
 */
export function compilePathPattern(pattern: string): RegExp {
  const chars = [...pattern];
  let out = '';
  let i = 0;
  const escapedAt = (at: number): string => {
    // A class member: `\x` is x; a bare `-` or `]` where a character belongs is malformed.
    const c = chars[at];
    if (c === undefined || c === '-' || c === ']') throw badPattern(pattern);
    if (c === '\\') {
      if (chars[at + 1] === undefined) throw badPattern(pattern);
      return chars[at + 1]!;
    }
    return c;
  };
  while (i < chars.length) {
    const c = chars[i]!;
    if (c === '*') {
      out += '[^/]*';
      i += 1;
    } else if (c === '?') {
      out += '[^/]';
      i += 1;
    } else if (c === '\\') {
      if (i + 1 >= chars.length) throw badPattern(pattern);
      out += literal(chars[i + 1]!);
      i += 2;
    } else if (c === '[') {
      i += 1;
      const negated = chars[i] === '^';
      if (negated) i += 1;
      let ranges = '';
      let count = 0;
      for (;;) {
        if (chars[i] === ']' && count > 0) {
          i += 1;
          break;
        }
        const lo = escapedAt(i);
        i += chars[i] === '\\' ? 2 : 1;
        let hi = lo;
        if (chars[i] === '-') {
          hi = escapedAt(i + 1);
          i += chars[i + 1] === '\\' ? 3 : 2;
        }
        count += 1;
        // Go's range lo-hi with lo > hi matches nothing; a RegExp would refuse it.
        if (lo.codePointAt(0)! <= hi.codePointAt(0)!) ranges += `${literal(lo)}-${literal(hi)}`;
      }
      out += `[${negated ? '^' : ''}${ranges}]`;
    } else {
      out += literal(c);
      i += 1;
    }
  }
  return new RegExp(`^${out}$`, 'u');
}

function literal(c: string): string {
  return `\\u{${c.codePointAt(0)!.toString(16)}}`;
}

function badPattern(pattern: string): StrataError {
  return new StrataError('EUSAGE', 'syntax error in pattern', { path: pattern });
}
