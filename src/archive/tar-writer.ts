import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { StrataError } from '../errors.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from '../layer/whiteout.js';
import { BLOCK_SIZE, encodeHeader, padding, type HeaderFields, type Typeflag } from './tar-header.js';
import type { PackEntry, PackEntryKind } from './pack-entry.js';

export type { PackEntry, PackEntryKind } from './pack-entry.js';

export interface TarWriteResult {
  entries: number;
  /** Content bytes written (file bodies, not headers). */
  bytes: number;
}

const TYPEFLAGS: Record<PackEntryKind, Typeflag> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
  whiteout: '0',
  opaque: '0',
};

const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK_SIZE);

/**
 * Writes entries as a tar stream into `out`, one at a time: file contents are piped
 * from their source with backpressure, so memory stays flat whatever the sizes.
 * `out` is not ended (it may be stdout); the caller ends or closes it.
 */
export async function writeTar(entries: AsyncIterable<PackEntry> | Iterable<PackEntry>, out: Writable): Promise<TarWriteResult> {
  const result: TarWriteResult = { entries: 0, bytes: 0 };
  for await (const entry of entries) {
    await writeEntry(entry, out);
    result.entries += 1;
    if (entry.kind === 'file') result.bytes += contentSize(entry);
  }
  await write(out, END_OF_ARCHIVE);
  return result;
}

/** One entry: its header block(s), then (files) its content padded to a whole block. */
export async function writeEntry(entry: PackEntry, out: Writable): Promise<void> {
  const fields = headerFields(entry);
  await write(out, encodeHeader(fields));
  if (entry.kind !== 'file') return;
  if (entry.content !== undefined) {
    await write(out, entry.content);
  } else if (fields.size > 0 || entry.open !== undefined) {
    if (entry.open === undefined) throw new StrataError('EUSAGE', `${entry.path}: a file entry needs its content`, { path: entry.path });
    await copyContent(await entry.open(), fields.size, entry.path, out);
  }
  await write(out, padding(fields.size));
}

/** The header of one entry, names in the encoding a reader of this kind expects. */
export function headerFields(entry: PackEntry): HeaderFields {
  const name = archiveName(entry);
  const size = entry.kind === 'file' ? contentSize(entry) : 0;
  const fields: HeaderFields = {
    name,
    typeflag: TYPEFLAGS[entry.kind],
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    size,
    mtime: Math.floor(entry.mtime),
  };
  if (entry.kind === 'symlink' || entry.kind === 'hardlink') fields.linkname = entry.linkTarget ?? '';
  if (entry.kind === 'char' || entry.kind === 'block') {
    fields.devmajor = entry.devMajor ?? 0;
    fields.devminor = entry.devMinor ?? 0;
  }
  if (entry.xattrs !== undefined) fields.xattrs = entry.xattrs;
  return fields;
}

/** In-memory content is its own size; streamed content is the size announced. */
function contentSize(entry: PackEntry): number {
  return entry.content?.length ?? entry.size ?? 0;
}

/** Whiteouts and opaque markers in OCI's wire encoding (image-spec layer.md "Whiteouts"), the one every layer tar uses. */
function archiveName(entry: PackEntry): string {
  if (entry.kind === 'dir') return entry.path.endsWith('/') ? entry.path : `${entry.path}/`;
  if (entry.kind === 'opaque') return entry.path === '' ? OPAQUE_MARKER : path.posix.join(entry.path, OPAQUE_MARKER);
  if (entry.kind === 'whiteout') {
    return path.posix.join(path.posix.dirname(entry.path), `${WHITEOUT_PREFIX}${path.posix.basename(entry.path)}`);
  }
  return entry.path;
}

/** Copies exactly `size` bytes: a file that grew or shrank while being read would corrupt the tar. */
async function copyContent(content: Readable, size: number, name: string, out: Writable): Promise<void> {
  let copied = 0;
  try {
    for await (const chunk of content) {
      const buf = chunk as Buffer;
      copied += buf.length;
      if (copied > size) break;
      await write(out, buf);
    }
  } finally {
    content.destroy();
  }
  if (copied !== size) {
    throw new StrataError(
      'ECONFLICT',
      `${name}: changed while being archived (expected ${size} bytes, found ${copied > size ? 'more' : copied})`,
      {
        path: name,
        expected: size,
        found: copied,
      },
    );
  }
}

/** Writes with backpressure, without ending `out`; fails when `out` has failed or closed. */
async function write(out: Writable, chunk: Buffer): Promise<void> {
  if (chunk.length === 0) return;
  if (out.errored) throw out.errored;
  if (out.destroyed || out.writableEnded) throw new StrataError('EINTERRUPTED', 'the output closed before the archive was written');
  if (!out.write(chunk)) await drained(out);
}

function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', done).off('error', done).off('close', closed);
      if (err) reject(err);
      else resolve();
    };
    const closed = () => done(out.errored ?? new StrataError('EINTERRUPTED', 'the output closed before the archive was written'));
    out.on('drain', done).on('error', done).on('close', closed);
  });
}
