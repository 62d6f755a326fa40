import fs from 'node:fs';
import { getAttributeSync } from '@napi-rs/xattr';
import type { WhiteoutFormat } from '../store/whiteout-probe.js';
import { OPAQUE_MARKER, OPAQUE_XATTR } from './whiteout.js';

/**
 * isOpaqueDir (layer/whiteout.ts) without a thread-pool round trip, for walks that
 * make tens of thousands of calls (du's upper walk). Same rule, same encodings:
 * `trusted.overlay.opaque=y` in the overlay format, a `.wh..wh..opq` entry in the oci one.
 */
export function isOpaqueDirSync(dir: string, format: WhiteoutFormat): boolean {
  if (format === 'overlay') {
    let value: Buffer | null;
    try {
      value = getAttributeSync(dir, OPAQUE_XATTR);
    } catch {
      return false;
    }
    return value !== null && value.toString() === 'y';
  }
  try {
    return fs.lstatSync(`${dir}/${OPAQUE_MARKER}`, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}
