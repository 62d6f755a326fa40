import fs, { type Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Header } from 'tar-stream';
import { isStrataError } from '../errors.js';
import type { WhiteoutFormat } from '../store/whiteout-probe.js';
import {
  deviceNumbers,
  entryKind,
  entryMeta,
  entryPath,
  hardlinkTargetPath,
  invalidEntry,
  quoteName,
  symlinkTarget,
  type EntryContext,
  type EntryMeta,
  type LayerPath,
} from './entry-path.js';
import { RootResolver } from './resolve-in-root.js';
import { UnappliedLog, applyOwner, applyXattrs } from './unapplied.js';
import { LayerTree, joinRel } from './safe-fs.js';
import type { TarXattr } from './tar-header-check.js';
import { markOpaque, parseWireWhiteout, whiteoutEntryName, whiteoutTarget, writeWhiteout } from './whiteout.js';

const run = promisify(execFile);

/** Final mode and mtime of a directory, applied once every entry is in (unpack.ts settleDirectories). */
export interface DirMeta {
  mode: number;
  mtime: number | null;
}

/**
 * An entry's metadata with its xattrs as bytes, read from the raw pax records
 * (tar-header-check.ts): entry-path.ts's are tar-stream's UTF-8 text, which binary
 * values such as security.capability do not survive.
 */
type NodeMeta = Omit<EntryMeta, 'xattrs'> & { xattrs: readonly TarXattr[] };

/**
 * Applies tar entries, one at a time and in order, into one layer's empty `diff`
 * directory. Every entry goes through the same pipeline: header and name checks
 * (entry-path.ts) → parent resolved inside the root (resolve-in-root.ts) → the last
 * component created without following it (safe-fs.ts). Nothing outside the root is
 * ever named, so nothing outside it can be touched. File-system calls are
 * synchronous for speed; safe-fs.ts says why.
 */
export class LayerWriter {
  readonly tree: LayerTree;
  readonly unapplied = new UnappliedLog();
  /** Every directory made, by real path: its final mode and mtime wait for the end (umoci#222). */
  readonly dirs = new Map<string, DirMeta>([['', { mode: 0o755, mtime: null }]]);
  /**
   * sha256 and size of every regular file this layer wrote, by real path, hashed
   * while it streamed to disk (files.sha256; unpack.ts keeps the paths still there).
   */
  readonly fileDigests = new Map<string, { digest: string; size: number }>();
  /** Directories this layer made opaque, for the overlay clean-up at the end. */
  readonly opaqueDirs = new Set<string>();
  /** oci format: directories holding a whiteout file of this layer, where a later entry must drop it. */
  private readonly whiteoutDirs = new Set<string>();
  private readonly resolver: RootResolver;

  constructor(
    root: string,
    readonly format: WhiteoutFormat,
    readonly source: string,
    private readonly privileged: boolean,
  ) {
    this.tree = new LayerTree(root, (rel, kind) => {
      if (kind !== 'other') this.resolver.forget();
      this.unapplied.forget(rel, kind === 'directory');
    });
    this.resolver = new RootResolver(this.tree, {
      beforeImpliedDir: (parent, name, ctx) => this.refuseWhitedOut(parent, name, ctx),
      afterImpliedDir: (rel) => {
        this.dirs.set(rel, { mode: 0o755, mtime: null });
        this.unapplied.forget(rel, false);
      },
    });
  }

  async apply(header: Header, data: AsyncIterable<unknown>, xattrs: readonly TarXattr[] = []): Promise<void> {
    const ctx: EntryContext = { source: this.source, entry: header.name };
    const kind = entryKind(header, ctx);
    const parts = entryPath(header.name, ctx);
    const base = parts[parts.length - 1];
    if (base === undefined) {
      // `./` is in most layers; the root's own metadata is not layer content (overlay
      // takes the merged root from the upper dir), so it changes nothing.
      if (kind !== 'directory') throw invalidEntry(ctx, 'only a directory may name the layer root');
      return;
    }
    const wire = wireWhiteout(base, ctx);
    const { parent, rel } = this.resolver.resolveEntry(parts, ctx, true)!;
    if (wire?.kind === 'opaque') return this.opaque(parent);
    if (wire) return this.whiteout(parent, wire.target);

    const meta: NodeMeta = { ...entryMeta(header, ctx), xattrs };
    this.unapplied.forget(rel, false); // whatever an earlier entry here could not apply is its own
    // A later entry for a path wins over this layer's earlier whiteout of it (in the
    // overlay format the whiteout *is* the path, and createNew replaces it).
    if (this.whiteoutDirs.has(parent)) await this.tree.remove(joinRel(parent, whiteoutEntryName(base, this.format)));
    switch (kind) {
      case 'file':
        return this.file(rel, data, meta);
      case 'directory':
        return this.directory(parts, rel, meta);
      case 'symlink':
        return this.symlink(rel, symlinkTarget(header, ctx), meta);
      case 'hardlink':
        return this.hardlink(rel, header.linkname ?? '', ctx);
      case 'fifo':
        return this.fifo(rel, meta);
      case 'char':
      case 'block':
        return this.device(rel, kind, deviceNumbers(header, ctx), meta);
    }
  }

  private async file(rel: string, data: AsyncIterable<unknown>, meta: NodeMeta): Promise<void> {
    const fd = (await this.tree.createNew(rel, () => fs.openSync(this.tree.abs(rel), 'wx', 0o600)))!;
    try {
      // Written chunk by chunk as tar-stream hands them over: never a whole file in memory.
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of data) {
        writeAll(fd, chunk as Uint8Array);
        hash.update(chunk as Uint8Array);
        size += (chunk as Uint8Array).length;
      }
      this.fileDigests.set(rel, { digest: hash.digest('hex'), size });
      this.finishNode(rel, meta, fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  private async directory(parts: LayerPath, rel: string, meta: NodeMeta): Promise<void> {
    // Kept u+rwx while entries go in, whatever the tar says; the real mode comes last.
    await this.tree.createNew(
      rel,
      () => fs.mkdirSync(this.tree.abs(rel), 0o700),
      (st) => st.isDirectory(),
    );
    this.resolver.remember(parts, rel);
    this.dirs.set(rel, { mode: meta.mode, mtime: meta.mtime });
    applyOwner(this.tree.abs(rel), rel, meta, this.privileged, this.unapplied);
    applyXattrs(this.tree.abs(rel), rel, meta.xattrs, this.unapplied);
  }

  private async symlink(rel: string, target: string, meta: NodeMeta): Promise<void> {
    const abs = this.tree.abs(rel);
    // Data, stored exactly as written; only resolve-in-root.ts ever reads it back.
    await this.tree.createNew(rel, () => fs.symlinkSync(target, abs));
    applyOwner(abs, rel, meta, this.privileged, this.unapplied);
    applyXattrs(abs, rel, meta.xattrs, this.unapplied);
    fs.lutimesSync(abs, meta.mtime, meta.mtime);
  }

  private async hardlink(rel: string, linkname: string, ctx: EntryContext): Promise<void> {
    const parts = hardlinkTargetPath(linkname, ctx);
    const targetName = parts[parts.length - 1]!;
    const target = this.resolver.resolveEntry(parts, ctx, false)?.rel ?? null;
    const st = target === null ? null : this.tree.lstat(target);
    if (target === null || st === null) throw invalidEntry(ctx, `hardlink target ${quoteName(linkname)} is not in this layer`);
    if (st.isDirectory()) throw invalidEntry(ctx, `hardlink target ${quoteName(linkname)} is a directory`);
    if (whiteoutTarget(targetName, st, this.format) !== null)
      throw invalidEntry(ctx, `hardlink target ${quoteName(linkname)} is a whiteout`);
    if (target === rel) return;
    // link(2) does not follow a symlink target: a hardlink to a symlink links the symlink.
    const sameInode = (existing: Stats) => existing.ino === st.ino && existing.dev === st.dev;
    await this.tree.createNew(rel, () => fs.linkSync(this.tree.abs(target), this.tree.abs(rel)), sameInode);
    this.unapplied.copy(target, rel);
    const content = this.fileDigests.get(target);
    if (content) this.fileDigests.set(rel, content);
  }

  private async device(rel: string, type: 'char' | 'block', numbers: { major: number; minor: number }, meta: NodeMeta): Promise<void> {
    const abs = this.tree.abs(rel);
    await this.tree.remove(rel);
    const args = ['-m', '600', abs, type === 'char' ? 'c' : 'b', String(numbers.major), String(numbers.minor)];
    // Root without CAP_MKNOD (a user namespace, a restricted container) fails like a user.
    if (
      this.privileged &&
      (await run('mknod', args).then(
        () => true,
        () => false,
      ))
    )
      return this.finishNode(rel, meta);
    // Rootless: an empty 0600 placeholder, and the device as a recorded fact in
    // layer.json — never an error, never a real node.
    fs.closeSync(fs.openSync(abs, 'wx', 0o600));
    this.unapplied.set('devices', rel, { type, ...numbers, mode: meta.mode });
    applyOwner(abs, rel, meta, this.privileged, this.unapplied);
    applyXattrs(abs, rel, meta.xattrs, this.unapplied);
    fs.utimesSync(abs, meta.mtime, meta.mtime);
  }

  /** Node cannot make fifos (nor device nodes); the coreutils can. */
  private async fifo(rel: string, meta: NodeMeta): Promise<void> {
    await this.tree.remove(rel);
    await run('mkfifo', ['-m', '600', this.tree.abs(rel)]);
    this.finishNode(rel, meta);
  }

  /**
   * Owner first (chown clears setuid/setgid and drops capabilities), then xattrs
   * while the file is still writable to us (user.* needs write access rootless),
   * then the mode, mtime last.
   */
  private finishNode(rel: string, meta: NodeMeta, fd?: number): void {
    const abs = this.tree.abs(rel);
    applyOwner(fd ?? abs, rel, meta, this.privileged, this.unapplied);
    applyXattrs(abs, rel, meta.xattrs, this.unapplied);
    if (fd === undefined) fs.chmodSync(abs, meta.mode);
    else fs.fchmodSync(fd, meta.mode);
    if (fd === undefined) fs.utimesSync(abs, meta.mtime, meta.mtime);
    else fs.futimesSync(fd, meta.mtime, meta.mtime);
  }

  /** An opaque marker hides the layers below, never this layer's own entries, in any order. */
  private async opaque(dir: string): Promise<void> {
    await markOpaque(this.tree.abs(dir), this.format);
    if (this.format === 'overlay') this.opaqueDirs.add(dir);
  }

  private async whiteout(dir: string, name: string): Promise<void> {
    // Whatever this layer put at the path before is deleted: a later whiteout wins.
    await this.tree.remove(joinRel(dir, name));
    const entry = joinRel(dir, whiteoutEntryName(name, this.format));
    if (entry !== joinRel(dir, name)) {
      this.whiteoutDirs.add(dir);
      if (this.tree.lstat(entry)) return; // the same whiteout twice
    }
    await writeWhiteout(this.tree.abs(dir), name, this.format);
  }

  /**
   * A missing parent may not be conjured where this layer whited the name out: that
   * would resurrect the lower directory's contents. In the overlay format the whiteout
   * is a device at that name and resolve-in-root refuses it as a non-directory; this
   * is the same refusal for the oci format's `.wh.name` files.
   */
  private refuseWhitedOut(parent: string, name: string, ctx: EntryContext): void {
    if (this.whiteoutDirs.has(parent) && this.tree.lstat(joinRel(parent, whiteoutEntryName(name, this.format)))) {
      throw invalidEntry(ctx, `parent ${quoteName(`/${joinRel(parent, name)}`)} was whited out earlier in this layer`);
    }
  }
}

function wireWhiteout(base: string, ctx: EntryContext): ReturnType<typeof parseWireWhiteout> {
  try {
    return parseWireWhiteout(base, ctx.entry);
  } catch (err) {
    // Re-said with the layer's name; whiteout.ts does not know which layer it is in.
    if (isStrataError(err)) throw invalidEntry(ctx, `invalid whiteout name ${quoteName(base)}`);
    throw err;
  }
}

function writeAll(fd: number, chunk: Uint8Array): void {
  for (let offset = 0; offset < chunk.length; ) offset += fs.writeSync(fd, chunk, offset);
}
