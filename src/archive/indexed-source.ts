import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { StrataError, jsonErrorReason } from '../errors.js';
import { EntryTable } from './entry-table.js';
import { ARCHIVE_LIMITS } from './limits.js';
import type { ArchiveSource, EntryBytes, ReadJsonOptions } from './source.js';
import { normalizeEntryName, type EntryType, type TarEntry } from './tar-index.js';

/**
 * An ArchiveSource served from a table of entries whose bytes sit somewhere on disk
 * (a byte range of the original tar, or a spool file) or, for small entries, in
 * memory. Both ways of opening an archive end here, so link following, name rules
 * and JSON limits exist once.
 */
export type EntryData = { file: string; start: number } | { buffer: Buffer };

export interface SourceEntry {
  type: EntryType;
  size: number;
  linkname: string;
  /** Where a regular file's bytes are; absent for everything else. */
  data?: EntryData;
}

export const DEFAULT_MAX_JSON_BYTES = ARCHIVE_LIMITS.maxJsonBytes;
const NO_FOLLOW = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW;
/** Linux's MAXSYMLINKS, which is also what the resolver allows. */
const MAX_LINK_HOPS = 40;

export interface IndexedSourceOptions {
  maxJsonBytes?: number;
  /** Runs once on close(), after every open stream was destroyed (removes spool files). */
  onClose?: () => Promise<void>;
  /**
   * Open files with O_NOFOLLOW: each file is its own (a layout directory's), and one
   * replaced by a link after it was listed must not be followed. Not for a tarball,
   * which the user may well name through a link.
   */
  noFollow?: boolean;
}

type Lookup = { ok: true; name: string; entry: SourceEntry & { data: EntryData } } | { ok: false; error: StrataError; viaLink: boolean };

export class IndexedSource implements ArchiveSource {
  private readonly streams = new Set<Readable>();
  private closed = false;

  constructor(
    readonly displayName: string,
    private readonly entries: ReadonlyMap<string, SourceEntry>,
    private readonly options: IndexedSourceOptions = {},
  ) {}

  has(name: string): boolean {
    const found = this.lookup(name);
    if (found.ok) return true;
    // A plain absence answers "no"; a link that is broken or leaves the archive is an error.
    if (found.viaLink) throw found.error;
    return false;
  }

  size(name: string): number {
    return this.resolve(name).entry.size;
  }

  open(name: string): Readable {
    this.assertOpen();
    const { entry } = this.resolve(name);
    const data = entry.data;
    if ('buffer' in data) return Readable.from([data.buffer]);
    if (entry.size === 0) return Readable.from([]);
    const stream = fs.createReadStream(data.file, {
      fd: fs.openSync(data.file, this.openFlags()),
      start: data.start,
      end: data.start + entry.size - 1,
    });
    this.streams.add(stream);
    stream.once('close', () => this.streams.delete(stream));
    return stream;
  }

  locate(name: string): EntryBytes {
    this.assertOpen();
    const { entry } = this.resolve(name);
    const data = entry.data;
    if ('buffer' in data) return { bytes: data.buffer };
    return { file: data.file, offset: data.start, length: entry.size, noFollow: this.options.noFollow === true };
  }

  async readJson(name: string, options: number | ReadJsonOptions = {}): Promise<unknown> {
    this.assertOpen();
    const { maxBytes = this.options.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES, digest } =
      typeof options === 'number' ? { maxBytes: options } : options;
    const found = this.resolve(name);
    const where = `${this.displayName}: ${name}`;
    if (found.entry.size > maxBytes) {
      throw new StrataError('ELIMIT', `${where}: JSON entry is ${found.entry.size} bytes (limit ${maxBytes})`, {
        path: name,
        expected: maxBytes,
        found: found.entry.size,
      });
    }
    const bytes = await this.readBytes(found.entry);
    if (digest !== undefined) {
      const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      if (actual !== digest) {
        throw new StrataError('EINTEGRITY', `${where}: content is ${actual}, but it was named ${digest}`, {
          path: name,
          expected: digest,
          found: actual,
        });
      }
    }
    try {
      return JSON.parse(bytes.toString('utf8')) as unknown;
    } catch (err) {
      throw new StrataError('EINVALIDARCHIVE', `${where}: invalid JSON: ${jsonErrorReason(err)}`, { path: name, cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.streams) stream.destroy();
    this.streams.clear();
    await this.options.onClose?.();
  }

  private async readBytes(entry: SourceEntry & { data: EntryData }): Promise<Buffer> {
    const data = entry.data;
    if ('buffer' in data) return data.buffer;
    const buf = Buffer.alloc(entry.size);
    const handle = await fsp.open(data.file, this.openFlags());
    try {
      const { bytesRead } = await handle.read(buf, 0, entry.size, data.start);
      if (bytesRead !== entry.size) throw this.invalid(data.file, `short read of ${data.file}`);
    } finally {
      await handle.close();
    }
    return buf;
  }

  private openFlags(): number {
    return this.options.noFollow ? NO_FOLLOW : fs.constants.O_RDONLY;
  }

  private assertOpen(): void {
    if (this.closed) throw new StrataError('EUSAGE', `${this.displayName}: archive already closed`);
  }

  private invalid(name: string, why: string): StrataError {
    return new StrataError('EINVALIDARCHIVE', `${this.displayName}: ${why}`, { path: name });
  }

  private resolve(name: string): Lookup & { ok: true } {
    const found = this.lookup(name);
    if (!found.ok) throw found.error;
    return found;
  }

  /**
   * Walks `name` one component at a time, as a file system would: a symlink in any
   * position is replaced by its target (relative to the link's directory), a
   * hardlink at the end jumps to the entry it names (relative to the archive root).
   * Whatever climbs above the root or is absolute is refused: nothing outside the
   * archive is ever read through a link.
   */
  private lookup(requested: string): Lookup {
    const start = normalizeEntryName(requested);
    if (start === null) {
      return { ok: false, viaLink: false, error: this.invalid(requested, `entry name ${JSON.stringify(requested)} escapes the archive`) };
    }
    let parts = start.split('/');
    let done: string[] = [];
    let hops = 0;
    let link: string | undefined;
    let firstLink: string | undefined;
    const linkError = (why: string, name = link!): Lookup => ({
      ok: false,
      viaLink: true,
      error: this.invalid(name, `link ${JSON.stringify(name)} ${why}`),
    });
    while (parts.length > 0) {
      const part = parts.shift()!;
      const here = [...done, part].join('/');
      const entry = this.entries.get(here);
      if (entry?.type === 'symlink' || (entry?.type === 'hardlink' && parts.length === 0)) {
        link = here;
        firstLink ??= here;
        // A loop is named by where the user entered it, not where the count ran out.
        if (++hops > MAX_LINK_HOPS) return linkError(`takes more than ${MAX_LINK_HOPS} hops (a loop?)`, firstLink);
        let target: string;
        if (entry.type === 'symlink') {
          if (entry.linkname.startsWith('/'))
            return linkError(`points outside the archive (absolute target ${JSON.stringify(entry.linkname)})`);
          target = path.posix.normalize(path.posix.join(done.join('/'), entry.linkname));
        } else {
          target = normalizeEntryName(entry.linkname) ?? '..';
        }
        if (target === '..' || target.startsWith('../')) return linkError(`points outside the archive (${JSON.stringify(entry.linkname)})`);
        parts = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...parts];
        done = [];
        continue;
      }
      done.push(part);
    }
    const name = done.join('/');
    const entry = this.entries.get(name);
    if (entry === undefined || entry.data === undefined) {
      const why = entry === undefined ? 'missing' : `${entry.type === 'other' ? 'a special file' : `a ${entry.type}`}, not a regular file`;
      if (link !== undefined) return linkError(`points to ${JSON.stringify(name)}, which is ${why}`);
      return { ok: false, viaLink: false, error: this.invalid(requested, `entry ${JSON.stringify(requested)} is ${why}`) };
    }
    return { ok: true, name, entry: entry as SourceEntry & { data: EntryData } };
  }
}

/**
 * The table for a plain tar file indexed in place: each file is a byte range of
 * `file`. An archive that names one path twice is refused (see entry-table.ts).
 */
export function tableFromTarIndex(file: string, entries: readonly TarEntry[]): Map<string, SourceEntry> {
  const table = new EntryTable(file);
  for (const e of entries) {
    table.add(e.name, {
      type: e.type,
      size: e.size,
      linkname: e.linkname,
      ...(e.type === 'file' ? { data: { file, start: e.offset } } : {}),
    });
  }
  return table.finish();
}
