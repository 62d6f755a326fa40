import fs from 'node:fs/promises';
import path from 'node:path';
import { tempName } from './atomic.js';
import { xattr } from '../xattr.js';

export type WhiteoutFormat = 'overlay' | 'oci';

/**
 * Decides which whiteout encoding a new store uses. The kernel's format (0/0 character
 * devices and `trusted.overlay.opaque`) is only possible where this process may make
 * device nodes and trusted.* xattrs — in practice root on Linux. Everyone else gets the
 * OCI encoding, which any filesystem and any user can hold.
 */
export async function probeWhiteoutFormat(root: string): Promise<WhiteoutFormat> {
  if (process.platform !== 'linux') return 'oci';
  const probe = path.join(root, tempName('probe'));
  await fs.mkdir(probe);
  try {
    // Loaded here: every command opens the store, only its creation probes (node:child_process costs ms to load).
    const [{ execFile }, { promisify }] = await Promise.all([import('node:child_process'), import('node:util')]);
    await promisify(execFile)('mknod', [path.join(probe, 'wh'), 'c', '0', '0']);
    await xattr().setAttribute(probe, 'trusted.overlay.opaque', 'y');
    return 'overlay';
  } catch {
    return 'oci';
  } finally {
    await fs.rm(probe, { recursive: true, force: true });
  }
}
