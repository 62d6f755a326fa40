import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { StrataError } from '../errors.js';
import { removeTree, tempName } from '../store/atomic.js';
import { decompress } from './compression.js';
import { checkTarStart } from './tar-start.js';
import { describeTarError } from './tar-errors.js';
import { EntryTable } from './entry-table.js';
import { IndexedSource, type SourceEntry } from './indexed-source.js';
import { DEFAULT_MAX_ENTRIES, normalizeEntryName, type EntryType } from './tar-index.js';

/**
 * A gzipped tarball or a pipe cannot seek, so it is read exactly once: every regular
 * entry goes to its own file in a private spool directory (under the store's ingest/,
 * so a crash leaves only a `.tmp-*` that gc removes), and the archive is then served
 * from there. Small entries (manifests, configs) stay in memory up to a fixed budget;
 * a layer is never buffered, so memory does not grow with the image.
 */
export interface SpoolOptions {
  /** Directory to create the spool directory in (the store's ingest/). */
  spoolDir: string;
  maxJsonBytes?: number;
  maxEntries?: number;
}

const SMALL_ENTRY_BYTES = 64 * 1024;
const MEMORY_BUDGET_BYTES = 16 * 1024 * 1024;

export async function spoolArchive(input: Readable, displayName: string, options: SpoolOptions): Promise<IndexedSource> {
  await fsp.mkdir(options.spoolDir, { recursive: true });
  const dir = path.join(options.spoolDir, tempName('spool'));
  await fsp.mkdir(dir, { mode: 0o700 });
  try {
    const entries = await extractTo(dir, input, displayName, options.maxEntries ?? DEFAULT_MAX_ENTRIES);
    return new IndexedSource(displayName, entries, {
      ...(options.maxJsonBytes !== undefined ? { maxJsonBytes: options.maxJsonBytes } : {}),
      onClose: () => removeTree(dir),
    });
  } catch (err) {
    input.destroy();
    await removeTree(dir);
    throw err;
  }
}

async function extractTo(dir: string, input: Readable, displayName: string, maxEntries: number): Promise<Map<string, SourceEntry>> {
  const { stream: decompressed, compression } = await decompress(input);
  let checked: Awaited<ReturnType<typeof checkTarStart>>;
  try {
    checked = await checkTarStart(decompressed, compression, displayName);
  } catch (err) {
    throw describeTarError(err, compression, false, displayName);
  }
  const { start, stream } = checked;
  // An archive that begins with its end marker holds nothing, whatever follows — as
  // the in-place index reads it (tar-index.ts), so a file and a pipe mean the same.
  if (start === 'end') return new EntryTable(displayName).finish();

  const table = new EntryTable(displayName);
  let count = 0;
  let inMemory = 0;
  // Like the in-place index, any header with a valid checksum is accepted (v7 tars too).
  const extract = tar.extract({ allowUnknownFormat: true } as Parameters<typeof tar.extract>[0]);
  extract.on('entry', (header, source, next) => {
    const entry = source as unknown as Readable;
    // When save() refuses an entry before reading it, tar-stream destroys the entry
    // stream with that error; the refusal reaches the caller through next(), and an
    // 'error' nobody listens to would crash the process instead.
    entry.on('error', () => {});
    count++;
    const save = async (): Promise<void> => {
      if (count > maxEntries) {
        throw new StrataError('ELIMIT', `${displayName}: more than ${maxEntries} entries`, { path: displayName });
      }
      const rawName = header.name;
      const name = normalizeEntryName(rawName);
      const type = entryType(header.type);
      const size = header.size ?? 0;
      if (name === null || type !== 'file') {
        // A directory has no data whatever its size field says (GNU tar and
        // tar-index.ts agree); tar-stream never ends its entry stream, so draining
        // one with a non-zero size would wait forever.
        if (header.type !== 'directory') await drain(entry);
        table.add(rawName, { type, size: 0, linkname: header.linkname ?? '' });
        return;
      }
      table.assertAddable(rawName, type);
      if (size <= SMALL_ENTRY_BYTES && inMemory + size <= MEMORY_BUDGET_BYTES) {
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk as Buffer);
        inMemory += size;
        table.add(rawName, { type, size, linkname: '', data: { buffer: Buffer.concat(chunks) } });
        return;
      }
      const file = path.join(dir, `entry-${count}`);
      await pipeline(entry, fs.createWriteStream(file, { flags: 'wx', mode: 0o600 }));
      table.add(rawName, { type, size, linkname: '', data: { file, start: 0 } });
    };
    save().then(
      () => next(),
      (err: unknown) => next(err as Error),
    );
  });
  try {
    await pipeline(stream, extract as unknown as Writable);
  } catch (err) {
    throw describeTarError(err, compression, count > 0, displayName);
  }
  return table.finish();
}

function entryType(type: tar.Header['type']): EntryType {
  switch (type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'link':
      return 'hardlink';
    case 'symlink':
      return 'symlink';
    case 'directory':
      return 'directory';
    default:
      return 'other';
  }
}

async function drain(entry: Readable): Promise<void> {
  await pipeline(entry, new Writable({ write: (_c, _e, done) => done() }));
}
