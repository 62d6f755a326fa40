import fs from 'node:fs';
import { createHash } from 'node:crypto';

/**
 * `layers/<chainID>/files.sha256`: the sha256 of every regular file of the unpacked
 * layer, taken while the file streamed to disk, so bit rot in `diff/` can be found
 * later (`check --deep`). Written inside the layer's temp directory before the
 * rename, so it appears with the layer or not at all; a sidecar rather than a field
 * of layer.json, which every size query reads and which should stay small.
 *
 * The format is GNU `sha256sum`'s, paths relative to `diff/`, sorted:
 * `cd diff && sha256sum -c ../files.sha256` verifies a layer by hand. A name with a
 * backslash or a newline is escaped the way sha256sum does it (the line starts `\`).
 */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** `[path relative to diff/, hex sha256]` pairs → the sidecar's text. */
export function formatFileDigests(files: Iterable<[string, string]>): string {
  const lines: string[] = [];
  for (const [rel, hex] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const escaped = /[\\\n\r]/.test(rel);
    const name = escaped ? rel.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : rel;
    lines.push(`${escaped ? '\\' : ''}${hex}  ${name}\n`);
  }
  return lines.join('');
}

/** The sidecar's text → path → hex sha256; null for a line that is not `<64 hex>  <path>`. */
export function parseFileDigests(text: string): { files: Map<string, string>; badLines: number[] } {
  const files = new Map<string, string>();
  const badLines: number[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    const m = /^(\\?)([0-9a-f]{64}) {2}(.+)$/s.exec(line);
    if (!m) {
      badLines.push(i + 1);
      return;
    }
    const name = m[1] ? m[3]!.replace(/\\(\\|n|r)/g, (_s, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : '\\')) : m[3]!;
    files.set(name, m[2]!);
  });
  return { files, badLines };
}

/** Hashes a file in 1 MiB reads, synchronously (the unpack's per-entry calls are; safe-fs.ts says why). */
export function hashFileSync(file: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    for (let n = fs.readSync(fd, buf); n > 0; n = fs.readSync(fd, buf)) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}
