import type { LayerRecord } from './record.js';

/**
 * The xattrs layer.json keeps for one path of a layer (`/etc/ping`), as bytes: what
 * the unpack could not set on the file (rootless: security.*, trusted.*) and a later
 * export or commit writes back. A null value is a name that is not to be written
 * back: reserved (trusted.overlay.*), or recorded before values were kept, when
 * layer.json listed only the names.
 */
export function recordedXattrs(unapplied: LayerRecord['unapplied'], layerPath: string): Map<string, Buffer | null> {
  const out = new Map<string, Buffer | null>();
  const entry: unknown = Object.hasOwn(unapplied.xattrs, layerPath) ? unapplied.xattrs[layerPath] : undefined;
  if (Array.isArray(entry)) {
    for (const name of entry) if (typeof name === 'string') out.set(name, null);
  } else if (typeof entry === 'object' && entry !== null) {
    for (const [name, value] of Object.entries(entry)) out.set(name, typeof value === 'string' ? Buffer.from(value, 'base64') : null);
  }
  return out;
}
