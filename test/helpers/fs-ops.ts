/**
 * continuity's file operations (fs/fstest/file.go) as data, so one case can be applied
 * three ways: to a plain directory (the expected side), to a kernel overlay mount (a
 * plain directory too, from the host's side) and through strata's resolver. Every op
 * sets its modes explicitly after creating, so the result does not depend on the umask
 * (containerd runs its suite with umask 0 for the same reason). No case names a
 * path through a symlink or chmods one, so a kernel mount's merged dir can be changed
 * by host paths, without kernel-overlay.ts's chroot.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Resolver } from '../../src/resolver/resolver.js';

const run = promisify(execFile);

export type Op =
  | { op: 'createFile'; path: string; data: string; mode: number }
  | { op: 'createDir'; path: string; mode: number }
  | { op: 'remove'; path: string }
  | { op: 'removeAll'; path: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'chown'; path: string; uid: number; gid: number }
  | { op: 'chmod'; path: string; mode: number }
  | { op: 'chtimes'; path: string; atime: number; mtime: number }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'link'; existing: string; path: string }
  | { op: 'createSocket'; path: string; mode: number }
  | { op: 'mknod'; path: string; kind: 'char' | 'block' | 'fifo'; mode: number; major: number; minor: number };

export const CreateFile = (p: string, data: string, mode: number): Op => ({ op: 'createFile', path: p, data, mode });
export const CreateDir = (p: string, mode: number): Op => ({ op: 'createDir', path: p, mode });
export const Remove = (p: string): Op => ({ op: 'remove', path: p });
export const RemoveAll = (p: string): Op => ({ op: 'removeAll', path: p });
export const Rename = (from: string, to: string): Op => ({ op: 'rename', from, to });
export const Chown = (p: string, uid: number, gid: number): Op => ({ op: 'chown', path: p, uid, gid });
export const Chmod = (p: string, mode: number): Op => ({ op: 'chmod', path: p, mode });
/** Times in seconds since the epoch. */
export const Chtimes = (p: string, atime: number, mtime: number): Op => ({ op: 'chtimes', path: p, atime, mtime });
/** continuity's argument order: Symlink(oldname, newname) makes newname → oldname. */
export const Symlink = (target: string, p: string): Op => ({ op: 'symlink', target, path: p });
/** Link(oldname, newname): newname becomes another name of oldname. */
export const Link = (existing: string, p: string): Op => ({ op: 'link', existing, path: p });
export const CreateSocket = (p: string, mode: number): Op => ({ op: 'createSocket', path: p, mode });
/** Not in continuity (its Mknod is commented out); devices need root. */
export const Mknod = (p: string, kind: 'char' | 'block' | 'fifo', mode: number, major = 0, minor = 0): Op => ({
  op: 'mknod',
  path: p,
  kind,
  mode,
  major,
  minor,
});

/** Container paths are absolute; containerd's cases sometimes leave the slash off. */
const abs = (p: string) => path.posix.join('/', p);

// ---- a directory on the host: the flat side, or a kernel overlay mount -------------

export interface HostApplyOptions {
  /**
   * The flat side of a layered case: inodes that belonged to earlier layers. Changing a
   * file of an earlier layer in a container copies it up, and overlayfs (without
   * index=on) then no longer shares it with its other names below; a plain directory
   * would change every name of the inode. So before such a change the flat side gives
   * the path its own copy, as the copy-up does.
   */
  lowerInodes?: Set<number>;
  /** A container's side: a rename of a lower directory fails EXDEV and is done as `mv` does it. */
  mvFallback?: boolean;
  /** Called with the errno of each rename that fell back to a copy (EXDEV expected). */
  onFallback?: (op: Op, code: string) => void;
}

export async function applyToDir(root: string, ops: Op[], options: HostApplyOptions = {}): Promise<void> {
  const at = (p: string) => path.join(root, abs(p));
  const lower = options.lowerInodes;
  // Whatever a layer has changed or made is the upper's from then on: a later change
  // copies nothing up, and an inode number the file system reused is not a lower one.
  const settle = async (p: string) => {
    const st = lower === undefined ? null : await fs.lstat(at(p)).catch(() => null);
    if (st !== null) lower?.delete(st.ino);
  };
  const copyUp = async (p: string) => {
    if (lower !== undefined) await breakLowerLink(at(p), lower);
    await settle(p);
  };
  for (const o of ops) {
    switch (o.op) {
      case 'createFile': {
        await copyUp(o.path);
        const handle = await fs.open(at(o.path), 'w', o.mode);
        try {
          await handle.writeFile(o.data);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await fs.chmod(at(o.path), o.mode);
        await settle(o.path);
        break;
      }
      case 'createDir':
        for (const dir of ancestorsAndSelf(o.path)) {
          if ((await fs.lstat(at(dir)).catch(() => null)) !== null) continue;
          await fs.mkdir(at(dir));
          await fs.chmod(at(dir), o.mode);
        }
        await fs.chmod(at(o.path), o.mode);
        break;
      case 'remove':
        if ((await fs.lstat(at(o.path))).isDirectory()) await fs.rmdir(at(o.path));
        else await fs.unlink(at(o.path));
        break;
      case 'removeAll':
        await fs.rm(at(o.path), { recursive: true, force: true });
        break;
      case 'rename':
        await copyUp(o.from);
        try {
          await fs.rename(at(o.from), at(o.to));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? '';
          if (!options.mvFallback || code !== 'EXDEV') throw err;
          options.onFallback?.(o, code);
          await copyTree(at(o.from), at(o.to));
          await fs.rm(at(o.from), { recursive: true });
        }
        break;
      case 'chown':
        await copyUp(o.path);
        await fs.lchown(at(o.path), o.uid, o.gid);
        break;
      case 'chmod':
        await copyUp(o.path);
        await fs.chmod(at(o.path), o.mode);
        break;
      case 'chtimes':
        await copyUp(o.path);
        await fs.utimes(at(o.path), o.atime, o.mtime);
        break;
      case 'symlink':
        await fs.symlink(o.target, at(o.path));
        await settle(o.path);
        break;
      case 'link':
        await copyUp(o.existing);
        await fs.link(at(o.existing), at(o.path));
        break;
      case 'createSocket':
        await bindSocket(at(o.path));
        await fs.chmod(at(o.path), o.mode);
        await settle(o.path);
        break;
      case 'mknod':
        await mknod(at(o.path), o);
        await settle(o.path);
        break;
    }
  }
}

/** Every inode below `root` that is not a directory: what the next layer's copy-ups break away from. */
export async function inodesBelow(root: string): Promise<Set<number>> {
  const found = new Set<number>();
  const walk = async (dir: string): Promise<void> => {
    for (const d of await fs.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) await walk(p);
      else found.add((await fs.lstat(p)).ino);
    }
  };
  await walk(root);
  return found;
}

async function breakLowerLink(host: string, lowerInodes: Set<number>): Promise<void> {
  const st = await fs.lstat(host).catch(() => null);
  if (st === null || st.isDirectory() || st.nlink < 2 || !lowerInodes.has(st.ino)) return;
  const copy = `${host}.copy-up`;
  if (st.isSymbolicLink()) {
    await fs.symlink(await fs.readlink(host), copy);
  } else {
    await fs.copyFile(host, copy);
    await fs.chmod(copy, st.mode & 0o7777);
  }
  await fs.lchown(copy, st.uid, st.gid);
  await fs.rename(copy, host);
}

/** What `mv` does when rename(2) says EXDEV: copy with modes, owners and the tree's own hardlinks, then remove. */
async function copyTree(from: string, to: string, seen = new Map<number, string>()): Promise<void> {
  const st = await fs.lstat(from);
  if (st.isDirectory()) {
    await fs.mkdir(to);
    for (const name of await fs.readdir(from)) await copyTree(path.join(from, name), path.join(to, name), seen);
  } else if (st.nlink > 1 && seen.has(st.ino)) {
    await fs.link(seen.get(st.ino)!, to);
    return;
  } else if (st.isSymbolicLink()) {
    await fs.symlink(await fs.readlink(from), to);
  } else if (st.isFile()) {
    await fs.copyFile(from, to);
  } else {
    throw new Error(`copyTree: cannot copy ${from}`);
  }
  seen.set(st.ino, to);
  await fs.lchown(to, st.uid, st.gid);
  if (!st.isSymbolicLink()) await fs.chmod(to, st.mode & 0o7777);
  await fs.lutimes(to, st.atime, st.mtime);
}

/**
 * Node cannot leave a bound unix socket behind (closing the server unlinks it); python's
 * bind does. Bound by its name from its directory: a socket path holds at most 107 bytes.
 */
async function bindSocket(host: string): Promise<void> {
  const bind = 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])';
  await run('python3', ['-S', '-E', '-c', bind, path.basename(host)], { cwd: path.dirname(host) });
}

async function mknod(host: string, o: Extract<Op, { op: 'mknod' }>): Promise<void> {
  const numbers = o.kind === 'fifo' ? [] : [String(o.major), String(o.minor)];
  await run('mknod', [host, { char: 'c', block: 'b', fifo: 'p' }[o.kind], ...numbers]);
  await fs.chmod(host, o.mode);
}

function ancestorsAndSelf(p: string): string[] {
  const parts = abs(p).split('/').filter(Boolean);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}

// ---- strata's resolver -------------------------------------------------------------

export interface ViewApplyOptions {
  /** Sockets and device nodes cannot be made through the resolver: they are made in the upper directory, as a process would. */
  upperDir: string;
  onFallback?: (op: Op, code: string) => void;
}

export async function applyToView(view: Resolver, ops: Op[], options: ViewApplyOptions): Promise<void> {
  for (const o of ops) {
    switch (o.op) {
      case 'createFile':
        await view.writeFile(abs(o.path), o.data, { mode: o.mode });
        await view.chmod(abs(o.path), o.mode);
        break;
      case 'createDir':
        for (const dir of ancestorsAndSelf(o.path)) {
          if (await view.exists(dir)) continue;
          await view.mkdir(dir, { mode: o.mode });
          await view.chmod(dir, o.mode);
        }
        await view.chmod(abs(o.path), o.mode);
        break;
      case 'remove':
        if ((await view.lstat(abs(o.path))).type === 'dir') await view.rmdir(abs(o.path));
        else await view.unlink(abs(o.path));
        break;
      case 'removeAll':
        await view.rm(abs(o.path), { recursive: true, force: true });
        break;
      case 'rename':
        try {
          await view.rename(abs(o.from), abs(o.to));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? '';
          if (code !== 'EXDEV') throw err;
          options.onFallback?.(o, code);
          await copyViewTree(view, abs(o.from), abs(o.to));
          await view.rm(abs(o.from), { recursive: true });
        }
        break;
      case 'chown':
        await view.lchown(abs(o.path), o.uid, o.gid);
        break;
      case 'chmod':
        await view.chmod(abs(o.path), o.mode);
        break;
      case 'chtimes':
        await view.utimes(abs(o.path), o.atime, o.mtime);
        break;
      case 'symlink':
        await view.symlink(o.target, abs(o.path));
        break;
      case 'link':
        await view.link(abs(o.existing), abs(o.path));
        break;
      case 'createSocket':
      case 'mknod': {
        // The resolver makes neither: the parent is copied up (a chmod to its own mode)
        // and the node made beside it in the upper, as a process in the container would.
        const parent = path.posix.dirname(abs(o.path));
        if (parent !== '/') await view.chmod(parent, (await view.lstat(parent)).mode);
        const host = path.join(options.upperDir, abs(o.path));
        if (o.op === 'mknod') {
          await mknod(host, o);
        } else {
          await bindSocket(host);
          await fs.chmod(host, o.mode);
        }
        break;
      }
    }
  }
}

async function copyViewTree(view: Resolver, from: string, to: string, seen = new Map<string, string>()): Promise<void> {
  const st = await view.lstat(from);
  const key = `${st.layer}:${st.ino}`;
  if (st.type === 'dir') {
    await view.mkdir(to);
    for (const name of await view.readdir(from)) await copyViewTree(view, `${from}/${name}`, `${to}/${name}`, seen);
  } else if (st.nlink > 1 && seen.has(key)) {
    await view.link(seen.get(key)!, to);
    return;
  } else if (st.type === 'symlink') {
    await view.symlink(await view.readlink(from), to);
  } else if (st.type === 'file') {
    await view.writeFile(to, await view.readFile(from));
  } else {
    throw new Error(`copyViewTree: cannot copy ${from}`);
  }
  seen.set(key, to);
  await view.lchown(to, st.uid, st.gid);
  if (st.type !== 'symlink') await view.chmod(to, st.mode);
}
