import fs from 'node:fs';
import path from 'node:path';
import { StrataError } from '../errors.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX, isOpaqueDir, isWhiteoutDevice } from '../layer/whiteout.js';
import type { WhiteoutFormat } from '../store/whiteout-probe.js';

/** One name of an upper directory, classified. */
export interface UpperName {
  /** The name in the container: a whiteout's target, else the name itself. */
  name: string;
  /** The name on disk. */
  onDisk: string;
  st: fs.Stats;
  whiteout: boolean;
}

/**
 * The names of one upper directory, sorted by their name in the container (byte
 * order), and whether it is opaque. In the oci encoding `.wh.NAME` files are
 * whiteouts and `.wh..wh..opq` the opaque marker (and 0/0 devices, which
 * fuse-overlayfs makes, whiteouts too); in the kernel's, a 0/0 character
 * device is a whiteout, the opaque xattr marks the directory, and every `.wh.` name
 * is one the container made.
 */
export function listUpperDir(hostDir: string, rel: string, format: WhiteoutFormat): { names: UpperName[]; opaque: boolean } {
  const names: UpperName[] = [];
  let opaque = format === 'overlay' && isOpaqueDir(hostDir, format);
  for (const raw of fs.readdirSync(hostDir, { encoding: 'buffer' })) {
    const onDisk = utf8Name(raw, rel);
    const st = fs.lstatSync(path.join(hostDir, onDisk));
    if (format === 'overlay') {
      if (st.isCharacterDevice() && st.rdev === 0) names.push({ name: onDisk, onDisk, st, whiteout: true });
      else if (onDisk.startsWith(WHITEOUT_PREFIX)) throw reservedName(rel, onDisk);
      else names.push({ name: onDisk, onDisk, st, whiteout: false });
      continue;
    }
    if (!onDisk.startsWith(WHITEOUT_PREFIX)) {
      // A 0/0 device is fuse-overlayfs' whiteout, in this encoding too (src/layer/whiteout.ts).
      names.push({ name: onDisk, onDisk, st, whiteout: isWhiteoutDevice(st) });
      continue;
    }
    if (isWhiteoutDevice(st)) continue; // fuse-overlayfs' bookkeeping beside an opaque marker
    const target = onDisk.slice(WHITEOUT_PREFIX.length);
    if (onDisk === OPAQUE_MARKER && st.isFile()) {
      opaque = true;
      continue;
    }
    if (!st.isFile() || target === '' || target === '.' || target === '..' || target.startsWith(WHITEOUT_PREFIX)) {
      throw reservedName(rel, onDisk);
    }
    names.push({ name: target, onDisk, st, whiteout: true });
  }
  // A whiteout sorts before an entry of the same name (oci: both may be there): it hides the lower one only.
  names.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)) || Number(b.whiteout) - Number(a.whiteout));
  return { names, opaque };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A name as the layer would carry it. Linux names are bytes and tar names are UTF-8
 * text (pax `path`): a name that is not UTF-8 could not be written as it is, and a
 * replaced character would name another file, so it is refused.
 */
function utf8Name(raw: Buffer, rel: string): string {
  try {
    return UTF8.decode(raw);
  } catch {
    const shown = `/${rel === '' ? '' : `${rel}/`}${raw.toString('latin1')}`;
    throw new StrataError('ECONFLICT', `${JSON.stringify(shown)}: a name that is not UTF-8 cannot be committed; rename it`, {
      path: shown,
    });
  }
}

function reservedName(rel: string, name: string): StrataError {
  const where = `/${rel === '' ? name : `${rel}/${name}`}`;
  return new StrataError(
    'ECONFLICT',
    `${where}: a name starting with ${WHITEOUT_PREFIX} cannot be committed (in a layer it would delete files of the image below); rename or remove it`,
    { path: where },
  );
}
