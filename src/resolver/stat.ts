import type { Context, ResolverStats } from './options.js';
import type { Entry } from './lookup.js';
import { makeDev } from './upper-meta.js';
import { readUpperMetaAsOwner } from './owner-fallback.js';

/**
 * What stat(2) inside the container would say about an entry: the attributes of
 * its topmost copy, with what a rootless unpack could only record put back
 * (ownership, device nodes), and overlayfs' nlink of 1 for merged directories.
 */
export async function statEntry(ctx: Context, entry: Entry): Promise<ResolverStats> {
  const top = entry.stack[0];
  if (top === undefined) {
    // An ancestor of a mount point that no layer has: the runtime would create it 0755 root.
    return {
      type: 'dir',
      mode: 0o755,
      uid: 0,
      gid: 0,
      size: 0,
      atimeMs: 0,
      mtimeMs: 0,
      ctimeMs: 0,
      nlink: 2,
      rdev: 0,
      ino: 0,
      blocks: 0,
      layer: 'mount',
      hostPath: null,
    };
  }
  const st = top.st;
  const stats: ResolverStats = {
    type: entry.type,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    atimeMs: st.atimeMs,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
    // ovl_getattr: counting subdirectories across layers is not worth it; 1 pacifies find(1).
    nlink: entry.type === 'dir' && entry.stack.length > 1 ? 1 : st.nlink,
    rdev: st.rdev,
    ino: st.ino,
    blocks: st.blocks,
    layer: top.layer,
    hostPath: top.host,
  };
  if (typeof top.layer === 'number') {
    const recorded = ctx.lowerMetadata[top.layer];
    const owner = recorded?.owners[entry.path];
    if (owner !== undefined) Object.assign(stats, { uid: owner.uid, gid: owner.gid });
    else if (ctx.rootless) Object.assign(stats, { uid: 0, gid: 0 });
    const device = recorded?.devices[entry.path];
    if (device !== undefined) Object.assign(stats, { mode: device.mode & 0o7777, size: 0, rdev: makeDev(device.major, device.minor) });
  } else if (top.layer === 'upper' && ctx.rootless) {
    const meta = await readUpperMetaAsOwner(ctx, top.host);
    Object.assign(stats, { uid: meta?.uid ?? 0, gid: meta?.gid ?? 0 });
    if (meta?.device !== undefined) Object.assign(stats, { size: 0, rdev: makeDev(meta.device.major, meta.device.minor) });
  }
  return stats;
}
