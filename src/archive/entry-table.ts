import { StrataError } from '../errors.js';
import type { SourceEntry } from './indexed-source.js';
import { normalizeEntryName, type EntryType } from './tar-index.js';

/**
 * Builds the name → entry table of an outer archive, refusing every archive in
 * which one path could mean two things. tar itself lets a later entry replace an
 * earlier one, but readers disagree on which copy counts (an extractor keeps the
 * last, a scanner reading by path may stop at the first, a reader by offset may
 * take either), so a scanner and strata could see different images in one file.
 * Refused, whatever the order:
 *
 * - two entries whose names normalise to the same path (`manifest.json` twice,
 *   `./manifest.json` and `manifest.json`, `blobs//sha256/x` and `blobs/sha256/x`),
 *   including a file and a directory of one name, and two copies of a blob even
 *   when their bytes are equal: no tool that writes image archives repeats a path,
 *   and proving two copies equal would cost a read of both;
 * - an entry below a path that is not a directory in the archive (below a file, a
 *   link or a device): a reader that follows the link and one that takes names
 *   literally would read different bytes.
 *
 * Two directory entries of one path are kept as one: a directory's entry carries
 * no content strata reads, so there is nothing to disagree on.
 */
export class EntryTable {
  private readonly entries = new Map<string, SourceEntry>();
  /** The name each path was first written as, for the error. */
  private readonly written = new Map<string, string>();

  /** `displayName` is what errors call the archive. */
  constructor(private readonly displayName: string) {}

  /** Adds an entry under its name as written in the tar; names outside the archive are never served. */
  add(rawName: string, entry: SourceEntry): void {
    const name = normalizeEntryName(rawName);
    if (name === null || this.isRepeat(name, rawName, entry.type)) return;
    this.entries.set(name, entry);
    this.written.set(name, rawName);
  }

  /**
   * Refuses an entry of this name and type before its data is read, so a spooled
   * archive does not copy a duplicate only to refuse it afterwards.
   */
  assertAddable(rawName: string, type: EntryType): void {
    const name = normalizeEntryName(rawName);
    if (name !== null) this.isRepeat(name, rawName, type);
  }

  /** True for a directory seen before (nothing to add); throws for any other repeat. */
  private isRepeat(name: string, rawName: string, type: EntryType): boolean {
    const earlier = this.entries.get(name);
    if (earlier === undefined) return false;
    if (earlier.type === 'directory' && type === 'directory') return true;
    const first = this.written.get(name)!;
    const spelled = first === rawName ? '' : ` (as ${JSON.stringify(first)} and ${JSON.stringify(rawName)})`;
    throw new StrataError(
      'EINVALIDARCHIVE',
      `${this.displayName}: ${JSON.stringify(name)} appears twice in the archive${spelled}; readers would disagree on which one counts`,
      { path: name },
    );
  }

  /** The finished table, once no entry lies below a non-directory. */
  finish(): Map<string, SourceEntry> {
    for (const name of this.entries.keys()) {
      for (let slash = name.indexOf('/'); slash >= 0; slash = name.indexOf('/', slash + 1)) {
        const parent = this.entries.get(name.slice(0, slash));
        if (parent !== undefined && parent.type !== 'directory') {
          throw new StrataError(
            'EINVALIDARCHIVE',
            `${this.displayName}: ${JSON.stringify(name)} lies below ${JSON.stringify(name.slice(0, slash))}, which is ${describe(parent.type)}, not a directory; readers would disagree on what the path holds`,
            { path: name },
          );
        }
      }
    }
    return this.entries;
  }
}

function describe(type: EntryType): string {
  return type === 'other' ? 'a special file' : `a ${type}`;
}
