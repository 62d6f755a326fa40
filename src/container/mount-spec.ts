import path from 'node:path';
import { StrataError } from '../errors.js';
import type { MountSpec } from './record.js';
import { anonymousVolumeName } from '../volume/volume.js';

/**
 * Parses docker's `-v` forms: `name:/dst[:ro|rw]` (named volume), `/host:/dst[:ro|rw]`
 * (bind mount) and `/dst` (anonymous volume).
 */
export function parseVolumeFlag(flag: string): MountSpec {
  const parts = flag.split(':');
  if (parts.length === 1) {
    return { type: 'volume', name: anonymousVolumeName(), destination: destinationOf(parts[0]!, flag), readOnly: false, anonymous: true };
  }
  if (parts.length > 3) throw new StrataError('EUSAGE', `invalid volume specification: '${flag}'`);
  const [source, target, mode = 'rw'] = parts as [string, string, string?];
  if (mode !== 'ro' && mode !== 'rw') throw new StrataError('EUSAGE', `invalid mode: ${mode} in volume specification '${flag}'`);
  const readOnly = mode === 'ro';
  const destination = destinationOf(target, flag);
  if (source.startsWith('/') || source.startsWith('.')) {
    return { type: 'bind', source: path.resolve(source), destination, readOnly };
  }
  return { type: 'volume', name: source, destination, readOnly, anonymous: false };
}

export function parseTmpfsFlag(flag: string): MountSpec {
  // Options after the colon (size=, mode=) are accepted and ignored: strata's tmpfs is a directory.
  return { type: 'tmpfs', destination: destinationOf(flag.split(':')[0]!, flag) };
}

function destinationOf(target: string, flag: string): string {
  if (!target.startsWith('/')) throw new StrataError('EUSAGE', `invalid mount config: mount path must be absolute: '${flag}'`);
  const normal = path.posix.normalize(target).replace(/\/+$/, '');
  if (normal === '' || normal === '/') throw new StrataError('EUSAGE', `invalid mount config: destination can't be '/': '${flag}'`);
  return normal;
}
