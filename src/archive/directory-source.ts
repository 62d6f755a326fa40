import fsp from 'node:fs/promises';
import path from 'node:path';
import { StrataError } from '../errors.js';
import { IndexedSource, type SourceEntry } from './indexed-source.js';
import { ARCHIVE_LIMITS } from './limits.js';

/**
 * An image layout directory (`skopeo copy … oci:DIR` writes one), read where it lies:
 * no tar is made and nothing is copied. The directory is listed once into the same
 * entry table a tar becomes, so links, JSON limits, digests and the format readers
 * are the tar path's own.
 *
 * A tar's links are entries inside the archive; a directory's symlinks are the host's
 * and may lead anywhere (`blobs/sha256/<hex> -> /etc/shadow`). No tool that writes a
 * layout makes links, so any symlink is refused by name. Sockets, FIFOs and devices
 * are listed as special files, which are never opened (a FIFO would block a read
 * forever). Files are later opened with O_NOFOLLOW (indexed-source.ts); a file
 * swapped for something else afterwards still has to match its digest.
 */
export interface DirectorySourceOptions {
  maxJsonBytes?: number;
  maxEntries?: number;
}

export async function openLayoutDirectory(dir: string, options: DirectorySourceOptions = {}): Promise<IndexedSource> {
  const maxEntries = options.maxEntries ?? ARCHIVE_LIMITS.maxEntries;
  const entries = new Map<string, SourceEntry>();
  const invalid = (rel: string, why: string) => new StrataError('EINVALIDARCHIVE', `${dir}: ${rel}: ${why}`, { path: path.join(dir, rel) });
  // Breadth-first with an explicit queue: depth costs no stack, and the entry limit bounds the work.
  const pending = [''];
  while (pending.length > 0) {
    const rel = pending.shift()!;
    for (const dirent of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const name = rel === '' ? dirent.name : `${rel}/${dirent.name}`;
      if (entries.size >= maxEntries) throw new StrataError('ELIMIT', `${dir}: more than ${maxEntries} entries`, { path: dir });
      if (dirent.isSymbolicLink())
        throw invalid(name, 'is a symbolic link; an image layout directory must hold its files, not links to them');
      if (dirent.isDirectory()) {
        entries.set(name, { type: 'directory', size: 0, linkname: '' });
        pending.push(name);
      } else if (dirent.isFile()) {
        const file = path.join(dir, name);
        const st = await fsp.lstat(file);
        if (!st.isFile()) throw invalid(name, 'changed while the directory was read');
        entries.set(name, { type: 'file', size: st.size, linkname: '', data: { file, start: 0 } });
      } else {
        entries.set(name, { type: 'other', size: 0, linkname: '' });
      }
    }
  }
  return new IndexedSource(dir, entries, {
    noFollow: true,
    ...(options.maxJsonBytes !== undefined ? { maxJsonBytes: options.maxJsonBytes } : {}),
  });
}
