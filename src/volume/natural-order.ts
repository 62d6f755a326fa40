/**
 * The order `docker volume ls` lists names in ("natural" order): runs of ASCII digits
 * compare by their numeric value, so `data2` comes before `data10`; everything else
 * compares byte by byte; a digit sorts before any other character; equal numbers
 * with more leading zeros come later (`2` before `02`). Volume names are ASCII, so
 * UTF-16 code units are their bytes.
 */
export function compareNatural(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [x, y] = [a.charCodeAt(i), b.charCodeAt(j)];
    const [xDigit, yDigit] = [isDigit(x), isDigit(y)];
    if (xDigit !== yDigit) return xDigit ? -1 : 1;
    if (!xDigit) {
      if (x !== y) return x - y;
      i++;
      j++;
      continue;
    }
    const [runA, runB] = [digitRun(a, i), digitRun(b, j)];
    const [valueA, valueB] = [runA.replace(/^0+/, ''), runB.replace(/^0+/, '')];
    if (valueA.length !== valueB.length) return valueA.length - valueB.length;
    if (valueA !== valueB) return valueA < valueB ? -1 : 1;
    if (runA.length !== runB.length) return runA.length - runB.length;
    i += runA.length;
    j += runB.length;
  }
  return a.length - i - (b.length - j);
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function digitRun(s: string, from: number): string {
  let end = from;
  while (end < s.length && isDigit(s.charCodeAt(end))) end++;
  return s.slice(from, end);
}
