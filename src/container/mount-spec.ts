import path from 'node:path';
import { StrataError } from '../errors.js';
import type { MountSpec } from './record.js';
import { anonymousVolumeName } from '../volume/volume.js';
import { parseTmpfsOptions } from './tmpfs-options.js';

/**
 * The options docker's `-v` takes after the second colon, comma-separated, at most one
 * of each group (moby's linux parser, validMountMode). Only ro/rw and nocopy change
 * anything here: there are no SELinux labels (z, Z), no mount propagation and no
 * file sharing to tune (consistent, cached, delegated — Docker for Mac's), so those
 * are accepted and kept as typed.
 */
const MODE_GROUPS: Record<string, string> = {
  ro: 'rw',
  rw: 'rw',
  z: 'label',
  Z: 'label',
  shared: 'propagation',
  slave: 'propagation',
  private: 'propagation',
  rshared: 'propagation',
  rslave: 'propagation',
  rprivate: 'propagation',
  nocopy: 'copy',
  consistent: 'consistency',
  cached: 'consistency',
  delegated: 'consistency',
};

/**
 * Parses docker's `-v` forms: `name:/dst[:options]` (named volume), `/host:/dst[:options]`
 * (bind mount) and `/dst` (anonymous volume).
 */
export function parseVolumeFlag(flag: string): MountSpec {
  const parts = flag.split(':');
  if (parts.length === 1) {
    return { type: 'volume', name: anonymousVolumeName(), destination: destinationOf(parts[0]!, flag), readOnly: false, anonymous: true };
  }
  // `/dst:ro`: an anonymous volume cannot take options (docker says the same).
  if (parts.length > 3 || (parts.length === 2 && isValidMode(parts[1]!)))
    throw new StrataError('EUSAGE', `invalid volume specification: '${flag}'`);
  const [source, target, mode] = parts as [string, string, string?];
  if (mode !== undefined && !isValidMode(mode)) throw new StrataError('EUSAGE', `invalid mode: ${mode} in volume specification '${flag}'`);
  const options = mode === undefined ? [] : mode.split(',');
  const readOnly = options.includes('ro');
  const destination = destinationOf(target, flag);
  const typed = mode === undefined ? {} : { mode };
  if (source.startsWith('/') || source.startsWith('.')) {
    if (options.includes('nocopy')) throw extraField('bind', 'VolumeOptions', flag);
    return { type: 'bind', source: path.resolve(source), destination, readOnly, ...typed };
  }
  if (options.some((o) => MODE_GROUPS[o] === 'propagation')) throw extraField('volume', 'BindOptions', flag);
  return {
    type: 'volume',
    name: source,
    destination,
    readOnly,
    anonymous: false,
    ...typed,
    ...(options.includes('nocopy') ? { noCopy: true } : {}),
  };
}

/** `--tmpfs /dst[:options]`: the options are checked now and kept as typed. */
export function parseTmpfsFlag(flag: string): MountSpec {
  const colon = flag.indexOf(':');
  const destination = destinationOf(colon < 0 ? flag : flag.slice(0, colon), flag);
  if (colon < 0) return { type: 'tmpfs', destination };
  const options = flag.slice(colon + 1);
  parseTmpfsOptions(options, flag);
  return { type: 'tmpfs', destination, options };
}

function isValidMode(mode: string): boolean {
  const seen = new Set<string>();
  for (const option of mode.split(',')) {
    const group = MODE_GROUPS[option];
    if (group === undefined || seen.has(group)) return false;
    seen.add(group);
  }
  return true;
}

function extraField(type: string, field: string, flag: string): StrataError {
  return new StrataError('EUSAGE', `invalid mount config for type "${type}": field ${field} must not be specified: '${flag}'`);
}

function destinationOf(target: string, flag: string): string {
  if (!target.startsWith('/')) throw new StrataError('EUSAGE', `invalid mount config: mount path must be absolute: '${flag}'`);
  const normal = path.posix.normalize(target).replace(/\/+$/, '');
  if (normal === '' || normal === '/') throw new StrataError('EUSAGE', `invalid mount config: destination can't be '/': '${flag}'`);
  return normal;
}
