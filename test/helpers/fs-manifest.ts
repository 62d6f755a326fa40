/**
 * A tree as continuity's CheckDirectoryEqual compares it (fs/fstest/continuity_util.go):
 * per path its type, mode, uid, gid, and for files the size, content digest and the
 * other names of its inode (hardlink groups), for symlinks the target, for devices the
 * major and minor numbers. Not mtimes, not xattrs, not directory sizes. One line per
 * path in byte order, so t.deepEqual prints exactly the paths that differ.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Resolver } from '../../src/resolver/resolver.js';

interface Node {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  /** Same value for every name of one inode. */
  inode: string;
  size?: number;
  sha256?: string;
  target?: string;
  rdev?: number;
}

/**
 * Without root, a store shows the user's own files as root's, as a rootless container
 * (a user namespace mapping the user to 0) would: the flat dir is read the same way.
 */
const ownUid = process.getuid?.() ?? 0;
const ownGid = process.getgid?.() ?? 0;
const asContainerSees = (id: number, own: number) => (own !== 0 && id === own ? 0 : id);

/** A directory on the host (a flat dir, or a kernel overlay mount). */
export async function dirManifest(root: string): Promise<string[]> {
  const nodes: Node[] = [];
  const visit = async (rel: string): Promise<void> => {
    const host = path.join(root, rel);
    const st = await fs.lstat(host);
    const type = st.isDirectory()
      ? 'dir'
      : st.isFile()
        ? 'file'
        : st.isSymbolicLink()
          ? 'symlink'
          : st.isFIFO()
            ? 'fifo'
            : st.isCharacterDevice()
              ? 'char'
              : st.isBlockDevice()
                ? 'block'
                : 'socket';
    const node: Node = {
      path: rel,
      type,
      mode: st.mode & 0o7777,
      uid: asContainerSees(st.uid, ownUid),
      gid: asContainerSees(st.gid, ownGid),
      inode: `${st.dev}:${st.ino}`,
    };
    if (type === 'file') {
      node.size = st.size;
      node.sha256 = createHash('sha256')
        .update(await fs.readFile(host))
        .digest('hex');
    } else if (type === 'symlink') {
      node.target = await fs.readlink(host);
    } else if (type === 'char' || type === 'block') {
      node.rdev = st.rdev;
    }
    nodes.push(node);
    if (type === 'dir') for (const name of await fs.readdir(host)) await visit(path.posix.join(rel, name));
  };
  await visit('/');
  return format(nodes);
}

/** A merged view, as strata's resolver serves it. */
export async function viewManifest(view: Resolver): Promise<string[]> {
  const nodes: Node[] = [];
  const root = await view.lstat('/');
  nodes.push({ path: '/', type: 'dir', mode: root.mode, uid: root.uid, gid: root.gid, inode: 'root' });
  for await (const { path: p, stats } of view.walk('/')) {
    const node: Node = {
      path: p,
      type: stats.type,
      mode: stats.mode,
      uid: stats.uid,
      gid: stats.gid,
      inode: `${stats.layer}:${stats.ino}`,
    };
    if (stats.type === 'file') {
      node.size = stats.size;
      node.sha256 = createHash('sha256')
        .update(await view.readFile(p))
        .digest('hex');
    } else if (stats.type === 'symlink') {
      node.target = await view.readlink(p);
    } else if (stats.type === 'char' || stats.type === 'block') {
      node.rdev = stats.rdev;
    }
    nodes.push(node);
  }
  return format(nodes);
}

function format(nodes: Node[]): string[] {
  const names = new Map<string, string[]>();
  for (const n of nodes) if (n.type !== 'dir') names.set(n.inode, [...(names.get(n.inode) ?? []), n.path]);
  return nodes
    .sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
    .map((n) => {
      const parts = [n.path, n.type, n.mode.toString(8).padStart(4, '0'), `${n.uid}:${n.gid}`];
      if (n.size !== undefined) parts.push(`size=${n.size}`, `sha256=${n.sha256!.slice(0, 16)}`);
      if (n.target !== undefined) parts.push(`-> ${n.target}`);
      if (n.rdev !== undefined) parts.push(`dev=${major(n.rdev)},${minor(n.rdev)}`);
      const others = (names.get(n.inode) ?? []).filter((p) => p !== n.path).sort();
      if (others.length > 0) parts.push(`links=${others.join(',')}`);
      return parts.join(' ');
    });
}

// Linux's dev_t encoding (glibc gnu_dev_major / gnu_dev_minor) for numbers below 2^32.
const major = (rdev: number) => (rdev >>> 8) & 0xfff;
const minor = (rdev: number) => (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
