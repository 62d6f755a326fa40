import fs from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { markOpaque, writeWhiteout } from '../../src/layer/whiteout.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { isFsError } from '../../src/errors.js';
import { Resolver, listTree, type ResolverStats, type TreeRow } from '../../src/resolver/index.js';
import { ChrootSession, mountOverlay, type RawOutcome } from '../helpers/kernel-overlay.js';

/**
 * One table of resolver behaviours (containerd's snapshotter testsuite style) that
 * runs against the resolver (resolver.test.ts, both whiteout formats) and against a
 * kernel overlay mount of the same directories (kernel.test.ts): the expectations
 * below are what the kernel does, and kernel.test.ts keeps them honest.
 */

// ---- layers ---------------------------------------------------------------------

export type LayerEntry =
  | { kind: 'file'; path: string; data: string; mode?: number }
  | { kind: 'dir'; path: string; mode?: number; opaque?: boolean }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'whiteout'; path: string }
  | { kind: 'hardlink'; path: string; target: string }
  | { kind: 'fifo'; path: string }
  | { kind: 'char'; path: string; major: number; minor: number };

export const f = (p: string, data = '', mode?: number): LayerEntry => ({
  kind: 'file',
  path: p,
  data,
  ...(mode === undefined ? {} : { mode }),
});
export const d = (p: string, mode?: number): LayerEntry => ({ kind: 'dir', path: p, ...(mode === undefined ? {} : { mode }) });
export const opq = (p: string): LayerEntry => ({ kind: 'dir', path: p, opaque: true });
export const ln = (p: string, target: string): LayerEntry => ({ kind: 'symlink', path: p, target });
export const wh = (p: string): LayerEntry => ({ kind: 'whiteout', path: p });
export const hl = (p: string, target: string): LayerEntry => ({ kind: 'hardlink', path: p, target });
export const fifo = (p: string): LayerEntry => ({ kind: 'fifo', path: p });
export const chr = (p: string, major: number, minor: number): LayerEntry => ({ kind: 'char', path: p, major, minor });

const run = promisify(execFile);

/** Every entry of a built layer gets this mtime, so copy-up and utimes can be checked exactly. */
export const LAYER_MTIME = 1_000_000_000;

/** Writes a layer directory from its entries, whiteouts and opaque markers in `format`. */
export async function buildLayer(dir: string, entries: LayerEntry[], format: WhiteoutFormat): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  for (const e of entries) {
    const host = path.join(dir, e.path);
    await makeParents(dir, path.dirname(e.path));
    switch (e.kind) {
      case 'file':
        await fs.writeFile(host, e.data);
        await fs.chmod(host, e.mode ?? 0o644);
        break;
      case 'dir':
        await fs.mkdir(host, { recursive: true });
        await fs.chmod(host, e.mode ?? 0o755);
        if (e.opaque) await markOpaque(host, format);
        break;
      case 'symlink':
        await fs.symlink(e.target, host);
        break;
      case 'whiteout':
        await writeWhiteout(path.dirname(host), path.basename(host), format);
        break;
      case 'hardlink':
        await fs.link(path.join(dir, e.target), host);
        break;
      case 'fifo':
        await run('mkfifo', ['-m', '0644', host]);
        break;
      case 'char':
        await run('mknod', ['-m', '0666', host, 'c', String(e.major), String(e.minor)]);
        break;
    }
  }
  await setTimes(dir);
}

async function makeParents(root: string, rel: string): Promise<void> {
  let at = root;
  for (const part of rel.split('/').filter(Boolean)) {
    at = path.join(at, part);
    if ((await fs.lstat(at).catch(() => null)) === null) {
      await fs.mkdir(at);
      await fs.chmod(at, 0o755);
    }
  }
}

async function setTimes(dir: string): Promise<void> {
  for (const d of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) await setTimes(p);
    await fs.lutimes(p, LAYER_MTIME, LAYER_MTIME);
  }
  await fs.utimes(dir, LAYER_MTIME, LAYER_MTIME);
}

// ---- operations -----------------------------------------------------------------

export type Op =
  | { op: 'writeFile'; path: string; data: string; mode?: number }
  | { op: 'appendFile'; path: string; data: string }
  | { op: 'truncate'; path: string; len: number }
  | { op: 'mkdir'; path: string; recursive?: boolean; mode?: number }
  | { op: 'unlink' | 'rmdir' | 'readFile' | 'readdir' | 'lstat' | 'stat' | 'readlink' | 'realpath' | 'exists'; path: string }
  | { op: 'rm'; path: string; recursive?: boolean; force?: boolean }
  | { op: 'rename'; from: string; to: string }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'link'; existing: string; path: string }
  | { op: 'chmod'; path: string; mode: number }
  | { op: 'chown' | 'lchown'; path: string; uid: number; gid: number }
  | { op: 'utimes'; path: string; atime: number; mtime: number };

export type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

/** What a stat compares: times only when old (set by a layer or utimes); a fresh write's time is just "new". */
export interface StatView {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  /** null for directories: their st_size is the backing filesystem's bookkeeping. */
  size: number | null;
  mtime: number | 'new';
}

export function statView(s: Pick<ResolverStats, 'mode' | 'uid' | 'gid' | 'nlink' | 'size' | 'mtimeMs'> & { type: string }): StatView {
  return {
    type: s.type,
    mode: s.mode,
    uid: s.uid,
    gid: s.gid,
    nlink: s.nlink,
    size: s.type === 'dir' ? null : s.size,
    mtime: s.mtimeMs < 1.6e12 ? Math.round(s.mtimeMs) : 'new',
  };
}

export interface Driver {
  apply(op: Op): Promise<Outcome>;
  /** Every path of the merged tree with its type (lstat), for generators to aim at. */
  list(): Promise<[string, string][]>;
  /** The merged tree, list_tree.py rows plus a stat view of every entry. */
  snapshot(): Promise<{ rows: TreeRow[]; stats: Map<string, StatView> }>;
  close(): Promise<void>;
}

export interface ViewOptions {
  readOnly?: boolean;
  /** No upper dir at all: the image view. */
  noUpper?: boolean;
}

/** Makes a driver over built lower dirs (top first); `scratch` is an empty temp dir it may use. */
export type DriverFactory = (lowers: string[], opts: ViewOptions, scratch: string) => Promise<Driver>;

export async function snapshotOf(resolver: Resolver): Promise<{ rows: TreeRow[]; stats: Map<string, StatView> }> {
  const stats = new Map<string, StatView>();
  for await (const w of resolver.walk('/')) stats.set(w.path, statView(w.stats));
  return { rows: await listTree(resolver), stats };
}

export function resolverDriver(format: WhiteoutFormat): DriverFactory {
  return async (lowers, opts, scratch) => {
    const upperDir = path.join(scratch, 'upper');
    const workDir = path.join(scratch, 'work');
    await fs.mkdir(upperDir);
    await fs.mkdir(workDir);
    const r = new Resolver({
      lowerDirs: lowers,
      format,
      readOnly: opts.readOnly ?? false,
      privileged: process.geteuid?.() === 0,
      ...(opts.noUpper ? {} : { upperDir, workDir }),
    });
    return {
      apply: (op) => applyToResolver(r, op),
      list: async () => {
        const out: [string, string][] = [];
        for await (const w of r.walk('/')) out.push([w.path, w.stats.type]);
        return out;
      },
      snapshot: () => snapshotOf(r),
      close: async () => {},
    };
  };
}

export async function applyToResolver(r: Resolver, op: Op): Promise<Outcome> {
  try {
    return { ok: true, value: (await callResolver(r, op)) ?? null };
  } catch (err) {
    if (isFsError(err)) return { ok: false, code: err.code };
    throw err;
  }
}

async function callResolver(r: Resolver, op: Op): Promise<unknown> {
  switch (op.op) {
    case 'writeFile':
      return r.writeFile(op.path, op.data, op.mode === undefined ? {} : { mode: op.mode });
    case 'appendFile':
      return r.appendFile(op.path, op.data);
    case 'truncate':
      return r.truncate(op.path, op.len);
    case 'mkdir':
      return r.mkdir(op.path, { recursive: op.recursive ?? false, ...(op.mode === undefined ? {} : { mode: op.mode }) });
    case 'unlink':
      return r.unlink(op.path);
    case 'rmdir':
      return r.rmdir(op.path);
    case 'rm':
      return r.rm(op.path, { recursive: op.recursive ?? false, force: op.force ?? false });
    case 'rename':
      return r.rename(op.from, op.to);
    case 'symlink':
      return r.symlink(op.target, op.path);
    case 'link':
      return r.link(op.existing, op.path);
    case 'chmod':
      return r.chmod(op.path, op.mode);
    case 'chown':
      return r.chown(op.path, op.uid, op.gid);
    case 'lchown':
      return r.lchown(op.path, op.uid, op.gid);
    case 'utimes':
      return r.utimes(op.path, op.atime, op.mtime);
    case 'readFile':
      return r.readFile(op.path, 'utf8');
    case 'readdir':
      return r.readdir(op.path);
    case 'lstat':
      return statView(await r.lstat(op.path));
    case 'stat':
      return statView(await r.stat(op.path));
    case 'readlink':
      return r.readlink(op.path);
    case 'realpath':
      return r.realpath(op.path);
    case 'exists':
      return r.exists(op.path);
  }
}

/** The kernel: overlayfs mounted over the same lowers, calls made by a process chrooted into it. */
export const kernelDriver: DriverFactory = async (lowers, opts, scratch) => {
  const [upperDir, workDir, target] = ['upper', 'work', 'merged'].map((n) => path.join(scratch, n)) as [string, string, string];
  await Promise.all([upperDir, workDir, target].map((p) => fs.mkdir(p)));
  const mount = await mountOverlay({
    lowerDirs: lowers,
    target,
    readOnly: opts.readOnly ?? false,
    ...(opts.noUpper ? {} : { upperDir, workDir }),
  });
  let session: ChrootSession;
  try {
    session = await ChrootSession.start(target);
  } catch (err) {
    await mount.unmount();
    throw err;
  }
  // The merged dir seen from the host as plain files: a mount at the container root.
  const plain = new Resolver({ lowerDirs: [], format: 'overlay', mounts: [{ path: '/', source: target, readOnly: true }] });
  return {
    apply: async (op) => fromRaw(op, await session.call(toRaw(op))),
    list: async () => {
      const raw = await session.call({ op: 'list' });
      if (!raw.ok) throw new Error(`listing the kernel mount failed: ${raw.code}`);
      return raw.value as [string, string][];
    },
    snapshot: () => snapshotOf(plain),
    close: async () => {
      await session.close();
      await mount.unmount();
    },
  };
};

function toRaw(op: Op): { op: string } & Record<string, unknown> {
  if (op.op === 'writeFile' || op.op === 'appendFile') return { ...op, data: Buffer.from(op.data).toString('hex') };
  return { ...op };
}

function fromRaw(op: Op, raw: RawOutcome): Outcome {
  if (!raw.ok) {
    if (raw.code === 'EDRIVER') throw new Error(`chroot driver failed on ${JSON.stringify(op)}: ${raw.message}`);
    return { ok: false, code: raw.code };
  }
  const value = raw.value ?? null;
  switch (op.op) {
    case 'readFile':
      return { ok: true, value: Buffer.from(value as string, 'hex').toString('utf8') };
    case 'lstat':
    case 'stat':
      return { ok: true, value: statView(value as ResolverStats) };
    default:
      return { ok: true, value };
  }
}

// ---- running a case -------------------------------------------------------------

/** 'ok', an errno name, or the value the call must return (objects: only the keys given are compared). */
export type Expect = 'ok' | `E${string}` | { value: unknown };
export type Step = [Op, Expect?];

export interface SuiteCase extends ViewOptions {
  name: string;
  /** Makes device nodes: runs only as root. */
  needsRoot?: boolean;
  /** Top layer first, as lowerdir=. */
  lowers: LayerEntry[][];
  steps: Step[];
  /**
   * The whole merged tree afterwards: path → 'dir [mode]', 'file [mode] content'
   * or 'symlink target'. Modes default to 0755 for dirs and 0644 for files.
   */
  tree?: Record<string, string>;
}

export interface CaseResult {
  steps: { op: Op; got: unknown; want: unknown }[];
  tree: { got: Record<string, string>; want: Record<string, string> } | null;
}

/** Builds the lowers, runs the steps through a driver, and returns what happened next to what should have. */
export async function runCase(c: SuiteCase, format: WhiteoutFormat, factory: DriverFactory): Promise<CaseResult> {
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-suite-'));
  try {
    const lowers: string[] = [];
    for (const [i, entries] of c.lowers.entries()) {
      const dir = path.join(scratch, `lower${i}`);
      await buildLayer(dir, entries, format);
      lowers.push(dir);
    }
    const driverDir = path.join(scratch, 'driver');
    await fs.mkdir(driverDir);
    const driver = await factory(lowers, c, driverDir);
    try {
      const steps: CaseResult['steps'] = [];
      for (const [op, expect = 'ok'] of c.steps) {
        const out = await driver.apply(op);
        const got = !out.ok ? out.code : typeof expect === 'object' ? { value: project(out.value, expect.value) } : 'ok';
        steps.push({ op, got, want: expect });
      }
      const tree = c.tree === undefined ? null : { got: renderTree((await driver.snapshot()).rows, c.tree), want: normalizeTree(c.tree) };
      return { steps, tree };
    } finally {
      await driver.close();
    }
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/** Keeps only the keys the expectation names, so `{ type: 'dir' }` checks just the type. */
function project(value: unknown, want: unknown): unknown {
  if (value === null || want === null || typeof value !== 'object' || typeof want !== 'object' || Array.isArray(want)) return value;
  return Object.fromEntries(Object.keys(want).map((k) => [k, (value as Record<string, unknown>)[k]]));
}

function normalizeTree(tree: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tree).map(([p, spec]) => [p, normalizeSpec(spec)]));
}

function normalizeSpec(spec: string): string {
  const [type = '', ...rest] = spec.split(' ');
  let mode = type === 'dir' ? '0755' : type === 'file' ? '0644' : '0777';
  if (rest.length > 0 && /^[0-7]{4}$/.test(rest[0]!) && type !== 'symlink') mode = rest.shift()!;
  const tail = rest.join(' ');
  if (type === 'file') return `file ${mode} ${JSON.stringify(tail)}`;
  if (type === 'symlink') return `symlink ${tail}`;
  return `${type} ${mode}`;
}

function renderTree(rows: TreeRow[], want: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rows) {
    const mode = r.mode.toString(8).padStart(4, '0');
    if (r.type === 'file') {
      // Show the expected content when the hash matches it, the hash otherwise.
      const expected = want[r.path]?.replace(/^file( [0-7]{4})? ?/, '') ?? null;
      const matches = expected !== null && createHash('sha256').update(expected).digest('hex') === r.sha256;
      out[r.path] = `file ${mode} ${matches ? JSON.stringify(expected) : `sha256:${r.sha256}`}`;
    } else if (r.type === 'symlink') {
      out[r.path] = `symlink ${r.link}`;
    } else {
      out[r.path] = `${r.type} ${mode}`;
    }
  }
  return out;
}

// ---- the cases ------------------------------------------------------------------

const o = {
  write: (p: string, data: string, mode?: number): Op => ({ op: 'writeFile', path: p, data, ...(mode === undefined ? {} : { mode }) }),
  append: (p: string, data: string): Op => ({ op: 'appendFile', path: p, data }),
  truncate: (p: string, len: number): Op => ({ op: 'truncate', path: p, len }),
  mkdir: (p: string, mode?: number): Op => ({ op: 'mkdir', path: p, ...(mode === undefined ? {} : { mode }) }),
  mkdirp: (p: string): Op => ({ op: 'mkdir', path: p, recursive: true }),
  unlink: (p: string): Op => ({ op: 'unlink', path: p }),
  rmdir: (p: string): Op => ({ op: 'rmdir', path: p }),
  rmrf: (p: string): Op => ({ op: 'rm', path: p, recursive: true, force: true }),
  rm: (p: string): Op => ({ op: 'rm', path: p }),
  rename: (from: string, to: string): Op => ({ op: 'rename', from, to }),
  symlink: (target: string, p: string): Op => ({ op: 'symlink', target, path: p }),
  link: (existing: string, p: string): Op => ({ op: 'link', existing, path: p }),
  chmod: (p: string, mode: number): Op => ({ op: 'chmod', path: p, mode }),
  chown: (p: string, uid: number, gid: number): Op => ({ op: 'chown', path: p, uid, gid }),
  lchown: (p: string, uid: number, gid: number): Op => ({ op: 'lchown', path: p, uid, gid }),
  utimes: (p: string, t: number): Op => ({ op: 'utimes', path: p, atime: t, mtime: t }),
  read: (p: string): Op => ({ op: 'readFile', path: p }),
  ls: (p: string): Op => ({ op: 'readdir', path: p }),
  lstat: (p: string): Op => ({ op: 'lstat', path: p }),
  stat: (p: string): Op => ({ op: 'stat', path: p }),
  readlink: (p: string): Op => ({ op: 'readlink', path: p }),
  realpath: (p: string): Op => ({ op: 'realpath', path: p }),
  exists: (p: string): Op => ({ op: 'exists', path: p }),
};
const v = (value: unknown): Expect => ({ value });

export { o as ops, v as value };

/** A chain /l0 → /l1 → … → /l40 → /target: 40 hops from /l1 resolve, 41 from /l0 are ELOOP. */
const chain: LayerEntry[] = [
  f('/target', 'end'),
  ...Array.from({ length: 41 }, (_, i) => ln(`/l${i}`, i === 40 ? '/target' : `/l${i + 1}`)),
];

export const SUITE_CASES: SuiteCase[] = [
  // lookup and readdir
  {
    name: 'a file in an upper layer hides a lower directory of the same name',
    lowers: [[f('/a', 'top')], [d('/a'), f('/a/x', 'x')]],
    steps: [
      [o.read('/a'), v('top')],
      [o.ls('/a'), 'ENOTDIR'],
      [o.lstat('/a/x'), 'ENOTDIR'],
    ],
    tree: { '/a': 'file top' },
  },
  {
    name: 'directories merge across layers',
    lowers: [
      [d('/d'), f('/d/top', '1')],
      [d('/d'), f('/d/low', '2'), f('/d/top', 'old')],
    ],
    steps: [
      [o.ls('/d'), v(['low', 'top'])],
      [o.read('/d/top'), v('1')],
      [o.lstat('/d'), v({ type: 'dir', nlink: 1 })],
    ],
    tree: { '/d': 'dir', '/d/low': 'file 2', '/d/top': 'file 1' },
  },
  {
    // JavaScript's own string order would put the emoji (a surrogate pair) before U+FF41.
    name: 'readdir lists names in code-point order, across layers and after writes',
    lowers: [
      [d('/d'), f('/d/\u{1F600}', '1'), f('/d/\uFF41', '2')],
      [d('/d'), f('/d/b', '3'), f('/d/~', '4')],
    ],
    steps: [
      [o.ls('/d'), v(['b', '~', '\uFF41', '\u{1F600}'])],
      [o.write('/d/\uE000', 'new'), v(null)],
      [o.unlink('/d/~'), v(null)],
      [o.ls('/d'), v(['b', '\uE000', '\uFF41', '\u{1F600}'])],
    ],
  },
  {
    name: 'a whiteout hides the lower entry and is never listed',
    lowers: [
      [wh('/a'), wh('/never')],
      [f('/a', 'x'), f('/b', 'y')],
    ],
    steps: [
      [o.ls('/'), v(['b'])],
      [o.lstat('/a'), 'ENOENT'],
      [o.lstat('/never'), 'ENOENT'],
      [o.exists('/a'), v(false)],
    ],
    tree: { '/b': 'file y' },
  },
  {
    name: 'an opaque directory hides what lower layers have in it',
    lowers: [
      [opq('/d'), f('/d/new', 'n')],
      [d('/d'), f('/d/old', 'o')],
    ],
    steps: [
      [o.ls('/d'), v(['new'])],
      [o.lstat('/d/old'), 'ENOENT'],
    ],
    tree: { '/d': 'dir', '/d/new': 'file n' },
  },
  {
    name: 'a lower opaque directory stops the merge below it, not above',
    lowers: [
      [d('/d'), f('/d/a')],
      [opq('/d'), f('/d/b')],
      [d('/d'), f('/d/c')],
    ],
    steps: [[o.ls('/d'), v(['a', 'b'])]],
  },
  {
    name: 'a directory below a non-directory does not merge',
    lowers: [[d('/d'), f('/d/a', 'a')], [f('/d', 'file')], [d('/d'), f('/d/b', 'b')]],
    steps: [
      [o.ls('/d'), v(['a'])],
      [o.lstat('/d/b'), 'ENOENT'],
    ],
  },
  {
    name: 'a directory re-created above its whiteout shows only the new content',
    lowers: [[d('/d'), f('/d/n', 'n')], [wh('/d')], [d('/d'), f('/d/o', 'o')]],
    steps: [[o.ls('/d'), v(['n'])]],
  },
  {
    name: 'a directory of a single layer keeps its real link count',
    lowers: [[d('/d'), d('/d/s1'), d('/d/s2')]],
    steps: [[o.lstat('/d'), v({ type: 'dir', nlink: 4, mode: 0o755, mtime: LAYER_MTIME * 1000 })]],
  },
  // symlinks resolve inside the root
  {
    name: 'an absolute symlink resolves from the container root',
    lowers: [[d('/etc'), ln('/etc/alt', '/target'), f('/target', 'in-root')]],
    steps: [
      [o.read('/etc/alt'), v('in-root')],
      [o.realpath('/etc/alt'), v('/target')],
      [o.stat('/etc/alt'), v({ type: 'file' })],
    ],
  },
  {
    name: '.. at the root stays at the root',
    lowers: [[ln('/up', '../../../../target'), f('/target', 't'), d('/d')]],
    steps: [
      [o.read('/up'), v('t')],
      [o.realpath('/up'), v('/target')],
      [o.read('/../../target'), v('t')],
      [o.realpath('/d/../../d'), v('/d')],
    ],
  },
  {
    name: 'a symlinked directory in the middle of a path is followed',
    lowers: [[d('/real'), f('/real/f', 'x'), ln('/link', 'real'), ln('/abs', '/real')]],
    steps: [
      [o.read('/link/f'), v('x')],
      [o.read('/abs/f'), v('x')],
      [o.lstat('/link'), v({ type: 'symlink', size: 4 })],
      [o.stat('/link'), v({ type: 'dir' })],
      [o.ls('/abs'), v(['f'])],
      [o.realpath('/abs/f'), v('/real/f')],
    ],
  },
  {
    name: 'a symlink loop is ELOOP for calls that follow, not for lstat',
    lowers: [[ln('/a', 'b'), ln('/b', '/a')]],
    steps: [
      [o.stat('/a'), 'ELOOP'],
      [o.lstat('/a'), v({ type: 'symlink' })],
      [o.read('/a'), 'ELOOP'],
      [o.write('/a', 'x'), 'ELOOP'],
      [o.read('/a/x'), 'ELOOP'],
      [o.mkdir('/a'), 'EEXIST'],
      [o.readlink('/b'), v('/a')],
      [o.exists('/a'), v(false)],
    ],
  },
  {
    name: '40 symlink hops resolve and the 41st is ELOOP',
    lowers: [chain],
    steps: [
      [o.read('/l1'), v('end')],
      [o.read('/l0'), 'ELOOP'],
      [o.realpath('/l1'), v('/target')],
    ],
  },
  {
    name: 'a symlink to a file in the middle of a path is ENOTDIR, a dangling one ENOENT',
    lowers: [[f('/file', 'x'), ln('/lf', 'file'), ln('/dangling', 'nowhere')]],
    steps: [
      [o.read('/lf/x'), 'ENOTDIR'],
      [o.lstat('/file/x'), 'ENOTDIR'],
      [o.read('/dangling/x'), 'ENOENT'],
      [o.write('/dangling/x', 'y'), 'ENOENT'],
      [o.mkdir('/file/x'), 'ENOTDIR'],
      [o.stat('/dangling'), 'ENOENT'],
    ],
  },
  {
    name: 'writing through a dangling symlink creates its target inside the root',
    lowers: [[d('/etc'), ln('/etc/link', '/created'), ln('/etc/rel', '../made')]],
    steps: [
      [o.write('/etc/link', 'hi'), 'ok'],
      [o.append('/etc/rel', 'yo'), 'ok'],
      [o.read('/created'), v('hi')],
      [o.readlink('/etc/link'), v('/created')],
    ],
    tree: { '/created': 'file hi', '/etc': 'dir', '/etc/link': 'symlink /created', '/etc/rel': 'symlink ../made', '/made': 'file yo' },
  },
  {
    name: 'readlink of a non-symlink is EINVAL; unlink removes a symlink, not its target',
    lowers: [[f('/t', 'keep'), ln('/l', 't')]],
    steps: [
      [o.readlink('/t'), 'EINVAL'],
      [o.unlink('/l'), 'ok'],
      [o.read('/t'), v('keep')],
      [o.lstat('/l'), 'ENOENT'],
    ],
    tree: { '/t': 'file keep' },
  },
  // copy-up
  {
    name: 'writing a lower file replaces its content in the merged view only',
    lowers: [[d('/d'), f('/d/f', 'lower'), f('/d/other', 'o')]],
    steps: [
      [o.write('/d/f', 'upper'), 'ok'],
      [o.read('/d/f'), v('upper')],
      [o.lstat('/d/f'), v({ mode: 0o644, size: 5, mtime: 'new' })],
    ],
    tree: { '/d': 'dir', '/d/f': 'file upper', '/d/other': 'file o' },
  },
  {
    name: 'append and truncate copy the whole lower file up first',
    lowers: [[f('/a', 'base'), f('/t', 'truncated')]],
    steps: [
      [o.append('/a', '+more'), 'ok'],
      [o.truncate('/t', 5), 'ok'],
      [o.read('/a'), v('base+more')],
      [o.read('/t'), v('trunc')],
    ],
    tree: { '/a': 'file base+more', '/t': 'file trunc' },
  },
  {
    name: 'chmod of a lower directory copies up just the directory; its lower children still show',
    lowers: [[d('/d'), f('/d/a', 'a'), d('/d/sub'), f('/d/sub/b', 'b')]],
    steps: [
      [o.chmod('/d', 0o700), 'ok'],
      [o.ls('/d'), v(['a', 'sub'])],
      [o.lstat('/d'), v({ mode: 0o700, nlink: 1, mtime: LAYER_MTIME * 1000 })],
      [o.read('/d/sub/b'), v('b')],
    ],
    tree: { '/d': 'dir 0700', '/d/a': 'file a', '/d/sub': 'dir', '/d/sub/b': 'file b' },
  },
  {
    name: 'copy-up keeps the mode, setuid bit and mtime of the lower file',
    lowers: [[d('/bin'), f('/bin/tool', '#!', 0o4755), f('/bin/t2', 'x', 0o640)]],
    steps: [
      [o.chown('/bin/t2', 0, 0), 'ok'],
      [o.utimes('/bin/tool', LAYER_MTIME), 'ok'],
      [o.lstat('/bin/tool'), v({ mode: 0o4755, mtime: LAYER_MTIME * 1000 })],
      [o.lstat('/bin/t2'), v({ mode: 0o640, uid: 0, mtime: LAYER_MTIME * 1000 })],
      [o.lstat('/bin'), v({ mtime: LAYER_MTIME * 1000 })],
    ],
  },
  {
    name: 'chown of a lower file copies it up and sets the owner; lchown changes a symlink, never its target',
    needsRoot: true,
    lowers: [[d('/etc'), f('/etc/conf', 'c', 0o640), ln('/etc/link', 'conf'), ln('/etc/other', 'conf')]],
    steps: [
      [o.chown('/etc/conf', 1234, 5678), 'ok'],
      [o.lstat('/etc/conf'), v({ mode: 0o640, uid: 1234, gid: 5678, mtime: LAYER_MTIME * 1000 })],
      [o.lchown('/etc/link', 7, 8), 'ok'],
      [o.lstat('/etc/link'), v({ uid: 7, gid: 8 })],
      [o.lstat('/etc/conf'), v({ uid: 1234, gid: 5678 })],
      [o.chown('/etc/other', 9, -1), 'ok'],
      [o.lstat('/etc/other'), v({ uid: 0, gid: 0 })],
      [o.lstat('/etc/conf'), v({ uid: 9, gid: 5678 })],
      [o.lchown('/etc/nope', 1, 1), 'ENOENT'],
      [o.read('/etc/conf'), v('c')],
    ],
  },
  {
    name: 'copy-up breaks a hardlink of a lower layer',
    lowers: [[f('/a', 'same'), hl('/b', '/a')]],
    steps: [
      [o.lstat('/a'), v({ nlink: 2 })],
      [o.write('/a', 'new'), 'ok'],
      [o.read('/b'), v('same')],
      [o.lstat('/a'), v({ nlink: 1 })],
    ],
    tree: { '/a': 'file new', '/b': 'file same' },
  },
  {
    name: 'a hardlink to a lower file links its upper copy',
    lowers: [[f('/a', 'x')]],
    steps: [
      [o.link('/a', '/b'), 'ok'],
      [o.lstat('/b'), v({ nlink: 2 })],
      [o.write('/b', 'y'), 'ok'],
      [o.read('/a'), v('y')],
    ],
    tree: { '/a': 'file y', '/b': 'file y' },
  },
  {
    name: 'fifos and device nodes of a layer are copied up as what they are',
    needsRoot: true,
    lowers: [[d('/dev'), chr('/dev/null', 1, 3), fifo('/run.pipe')]],
    steps: [
      [o.chmod('/dev/null', 0o600), 'ok'],
      [o.chmod('/run.pipe', 0o600), 'ok'],
      [o.rename('/run.pipe', '/dev/pipe'), 'ok'],
      [o.lstat('/dev/null'), v({ type: 'char', mode: 0o600, mtime: LAYER_MTIME * 1000 })],
      [o.lstat('/dev/pipe'), v({ type: 'fifo', mode: 0o600 })],
    ],
    tree: { '/dev': 'dir', '/dev/null': 'char 0600', '/dev/pipe': 'fifo 0600' },
  },
  {
    name: 'utimes on a lower file sets the times of its copy',
    lowers: [[f('/f', 'x')]],
    steps: [
      [o.utimes('/f', 1_100_000_000), 'ok'],
      [o.lstat('/f'), v({ mtime: 1_100_000_000_000 })],
    ],
  },
  // deleting
  {
    name: 'unlinking a lower file hides it; creating it again shows only the new file',
    lowers: [[d('/d'), f('/d/f', 'old'), f('/d/g', 'g')]],
    steps: [
      [o.unlink('/d/f'), 'ok'],
      [o.ls('/d'), v(['g'])],
      [o.read('/d/f'), 'ENOENT'],
      [o.write('/d/f', 'new'), 'ok'],
      [o.read('/d/f'), v('new')],
    ],
    tree: { '/d': 'dir', '/d/f': 'file new', '/d/g': 'file g' },
  },
  {
    name: 'rmdir of a merged directory that is not empty is ENOTEMPTY',
    lowers: [
      [d('/d'), f('/d/top')],
      [d('/d'), f('/d/low')],
    ],
    steps: [
      [o.unlink('/d/top'), 'ok'],
      [o.rmdir('/d'), 'ENOTEMPTY'],
      [o.unlink('/d/low'), 'ok'],
      [o.ls('/d'), v([])],
      [o.rmdir('/d'), 'ok'],
      [o.ls('/'), v([])],
    ],
    tree: {},
  },
  {
    name: "rm -r of a merged directory removes every layer's entries",
    lowers: [
      [d('/d'), f('/d/a'), d('/d/s'), f('/d/s/x')],
      [d('/d'), f('/d/b'), d('/d/s'), f('/d/s/y'), f('/keep', 'k')],
    ],
    steps: [
      [o.rmrf('/d'), 'ok'],
      [o.lstat('/d'), 'ENOENT'],
      [o.ls('/'), v(['keep'])],
      [o.rmrf('/d'), 'ok'],
      [o.rm('/d'), 'ENOENT'],
    ],
    tree: { '/keep': 'file k' },
  },
  {
    name: 'a re-created directory is empty: the deleted lower content stays deleted',
    lowers: [[d('/d'), f('/d/old', 'o'), d('/d/sub'), f('/d/sub/deep', 'x')]],
    steps: [
      [o.rmrf('/d'), 'ok'],
      [o.mkdir('/d'), 'ok'],
      [o.ls('/d'), v([])],
      [o.write('/d/new', 'n'), 'ok'],
      [o.ls('/d'), v(['new'])],
      [o.mkdirp('/d/sub/deep'), v('/d/sub')],
    ],
    tree: { '/d': 'dir', '/d/new': 'file n', '/d/sub': 'dir', '/d/sub/deep': 'dir' },
  },
  {
    name: 'a file created where a directory was deleted replaces the whiteout',
    lowers: [[d('/x'), f('/x/in')]],
    steps: [
      [o.rmrf('/x'), 'ok'],
      [o.write('/x', 'file now'), 'ok'],
      [o.lstat('/x'), v({ type: 'file' })],
      [o.symlink('/x', '/y'), 'ok'],
    ],
    tree: { '/x': 'file file now', '/y': 'symlink /x' },
  },
  {
    name: "delete calls refuse the wrong type with the kernel's codes",
    lowers: [[d('/d'), f('/f'), ln('/ld', 'd'), d('/e')]],
    steps: [
      [o.unlink('/d'), 'EISDIR'],
      [o.rmdir('/f'), 'ENOTDIR'],
      [o.rmdir('/ld'), 'ENOTDIR'],
      [o.rmdir('/'), 'EBUSY'],
      [o.unlink('/missing'), 'ENOENT'],
      [o.unlink('/f/x'), 'ENOTDIR'],
      [o.rmdir('/missing/x'), 'ENOENT'],
      [o.rm('/d'), 'EISDIR'],
      [o.rmdir('/e'), 'ok'],
      [o.rmdir('/e'), 'ENOENT'],
    ],
    tree: { '/d': 'dir', '/f': 'file', '/ld': 'symlink d' },
  },
  // rename
  {
    name: 'renaming a directory that exists in a lower layer is EXDEV',
    lowers: [
      [d('/low'), f('/low/f'), d('/m'), f('/m/a')],
      [d('/m'), f('/m/b')],
    ],
    steps: [
      [o.rename('/low', '/moved'), 'EXDEV'],
      [o.chmod('/m', 0o711), 'ok'],
      [o.rename('/m', '/m2'), 'EXDEV'],
      [o.rename('/low/f', '/low/g'), 'ok'],
    ],
    tree: { '/low': 'dir', '/low/g': 'file', '/m': 'dir 0711', '/m/a': 'file', '/m/b': 'file' },
  },
  {
    name: 'a directory made in the container can be renamed',
    lowers: [[d('/base')]],
    steps: [
      [o.mkdirp('/n/sub'), v('/n')],
      [o.write('/n/sub/f', 'x'), 'ok'],
      [o.rename('/n', '/base/m'), 'ok'],
      [o.ls('/base/m/sub'), v(['f'])],
      [o.lstat('/n'), 'ENOENT'],
    ],
    tree: { '/base': 'dir', '/base/m': 'dir', '/base/m/sub': 'dir', '/base/m/sub/f': 'file x' },
  },
  {
    name: 'renaming a lower file moves it and hides the source',
    lowers: [[d('/a'), f('/a/f', 'data', 0o600), d('/b')]],
    steps: [
      [o.rename('/a/f', '/b/g'), 'ok'],
      [o.ls('/a'), v([])],
      [o.lstat('/b/g'), v({ mode: 0o600, mtime: LAYER_MTIME * 1000 })],
    ],
    tree: { '/a': 'dir', '/b': 'dir', '/b/g': 'file 0600 data' },
  },
  {
    name: 'rename follows rename(2) for types: EISDIR, ENOTDIR, ENOTEMPTY',
    lowers: [[f('/f'), d('/full'), f('/full/x'), d('/empty')]],
    steps: [
      [o.rename('/f', '/empty'), 'EISDIR'],
      [o.mkdir('/n'), 'ok'],
      [o.rename('/n', '/f'), 'ENOTDIR'],
      [o.rename('/n', '/full'), 'ENOTEMPTY'],
      [o.rename('/missing', '/x'), 'ENOENT'],
      [o.rename('/f', '/nodir/x'), 'ENOENT'],
      [o.rename('/n', '/empty'), 'ok'],
    ],
    tree: { '/f': 'file', '/full': 'dir', '/full/x': 'file', '/empty': 'dir' },
  },
  {
    name: 'a directory renamed over an emptied lower directory does not bring its content back',
    lowers: [[d('/e'), f('/e/x', 'gone')]],
    steps: [
      [o.unlink('/e/x'), 'ok'],
      [o.mkdir('/n'), 'ok'],
      [o.write('/n/mine', 'm'), 'ok'],
      [o.rename('/n', '/e'), 'ok'],
      [o.ls('/e'), v(['mine'])],
    ],
    tree: { '/e': 'dir', '/e/mine': 'file m' },
  },
  {
    name: 'rename into its own subdirectory is EINVAL, onto an ancestor ENOTEMPTY',
    lowers: [[]],
    steps: [
      [o.mkdirp('/n/sub'), 'ok'],
      [o.rename('/n', '/n/sub/x'), 'EINVAL'],
      [o.rename('/n/sub', '/n'), 'ENOTEMPTY'],
      [o.rename('/n', '/n'), 'ok'],
    ],
    tree: { '/n': 'dir', '/n/sub': 'dir' },
  },
  {
    name: 'renaming one hardlink onto another does nothing',
    lowers: [[f('/a', 'x')]],
    steps: [
      [o.link('/a', '/b'), 'ok'],
      [o.rename('/a', '/b'), 'ok'],
      [o.ls('/'), v(['a', 'b'])],
    ],
    tree: { '/a': 'file x', '/b': 'file x' },
  },
  {
    name: 'a file renamed over a deleted name takes its place',
    lowers: [[f('/a', 'a'), f('/b', 'b')]],
    steps: [
      [o.unlink('/b'), 'ok'],
      [o.rename('/a', '/b'), 'ok'],
      [o.read('/b'), v('a')],
      [o.lstat('/a'), 'ENOENT'],
    ],
    tree: { '/b': 'file a' },
  },
  {
    name: 'renaming a symlink moves the link, not its target',
    lowers: [[d('/dir'), f('/dir/f', 'x'), ln('/l', 'dir')]],
    steps: [
      [o.rename('/l', '/l2'), 'ok'],
      [o.read('/l2/f'), v('x')],
      [o.readlink('/l2'), v('dir')],
    ],
    tree: { '/dir': 'dir', '/dir/f': 'file x', '/l2': 'symlink dir' },
  },
  // creating
  {
    name: 'mkdir of an existing name is EEXIST, even a dangling symlink',
    lowers: [[d('/d'), f('/f'), ln('/dangling', '/nowhere')]],
    steps: [
      [o.mkdir('/d'), 'EEXIST'],
      [o.mkdir('/f'), 'EEXIST'],
      [o.mkdir('/dangling'), 'EEXIST'],
      [o.mkdir('/no/x'), 'ENOENT'],
      [o.mkdir('/f/x'), 'ENOTDIR'],
      [o.mkdir('/'), 'EEXIST'],
      [o.lstat('/nowhere'), 'ENOENT'],
    ],
  },
  {
    name: 'mkdir -p follows symlinks and reports a file in the way as Node does',
    lowers: [[d('/real'), ln('/l', 'real'), f('/file'), ln('/dangling', 'gone')]],
    steps: [
      [o.mkdirp('/l/a/b'), v('/l/a')],
      [o.ls('/real/a'), v(['b'])],
      [o.mkdirp('/real'), v(null)],
      [o.mkdirp('/file'), 'EEXIST'],
      [o.mkdirp('/file/x/y'), 'ENOTDIR'],
      [o.mkdirp('/dangling/x'), 'ENOENT'],
    ],
  },
  {
    name: 'new entries get the asked mode less the umask',
    lowers: [[d('/d')]],
    steps: [
      [o.mkdir('/d/m', 0o777), 'ok'],
      [o.write('/d/f', 'x', 0o666), 'ok'],
      [o.write('/d/x', 'x', 0o4755), 'ok'],
      [o.mkdir('/d/s', 0o1777), 'ok'],
      [o.lstat('/d/m'), v({ mode: 0o755 })],
      [o.lstat('/d/f'), v({ mode: 0o644 })],
      [o.lstat('/d/x'), v({ mode: 0o4755 })],
      [o.lstat('/d/s'), v({ mode: 0o1755 })],
    ],
  },
  {
    name: 'a directory made in a setgid directory inherits the setgid bit, over a whiteout too',
    lowers: [
      [d('/g', 0o2775), wh('/g/old')],
      [d('/g'), d('/g/old'), f('/g/old/x')],
    ],
    steps: [
      [o.mkdir('/g/sub'), 'ok'],
      [o.mkdir('/g/old'), 'ok'],
      [o.lstat('/g/sub'), v({ mode: 0o2755 })],
      [o.lstat('/g/old'), v({ mode: 0o2755 })],
      [o.ls('/g/old'), v([])],
    ],
  },
  {
    name: 'writing or reading a directory is EISDIR; readdir of a file ENOTDIR',
    lowers: [[d('/d'), f('/f')]],
    steps: [
      [o.write('/d', 'x'), 'EISDIR'],
      [o.read('/d'), 'EISDIR'],
      [o.ls('/f'), 'ENOTDIR'],
      [o.append('/', 'x'), 'EISDIR'],
      [o.truncate('/d', 0), 'EISDIR'],
      [o.truncate('/nope', 0), 'ENOENT'],
    ],
  },
  {
    name: 'symlink and link refuse existing names; link of a directory is EPERM',
    lowers: [[d('/d'), f('/f', 'x'), ln('/l', 'f')]],
    steps: [
      [o.symlink('f', '/f'), 'EEXIST'],
      [o.symlink('x', '/l'), 'EEXIST'],
      [o.link('/f', '/l'), 'EEXIST'],
      [o.link('/d', '/d2'), 'EPERM'],
      [o.link('/missing', '/m'), 'ENOENT'],
      [o.link('/l', '/l2'), 'ok'],
      [o.readlink('/l2'), v('f')],
    ],
    tree: { '/d': 'dir', '/f': 'file x', '/l': 'symlink f', '/l2': 'symlink f' },
  },
  {
    name: "a trailing slash asks for a directory, with each call's own code",
    lowers: [[d('/d'), f('/d/x'), f('/f', 'x'), ln('/ld', 'd'), ln('/lf', 'f'), ln('/loop', 'loop')]],
    steps: [
      [o.lstat('/ld/'), v({ type: 'dir' })],
      [o.lstat('/lf/'), 'ENOTDIR'],
      [o.stat('/f/'), 'ENOTDIR'],
      [o.read('/f/'), 'ENOTDIR'],
      [o.ls('/ld/'), v(['x'])],
      [o.readlink('/ld/'), 'EINVAL'],
      [o.write('/f/', 'y'), 'EISDIR'],
      [o.write('/new/', 'y'), 'EISDIR'],
      [o.write('/loop/', 'y'), 'EISDIR'],
      [o.truncate('/f/', 0), 'ENOTDIR'],
      [o.chmod('/f/', 0o600), 'ENOTDIR'],
      [o.unlink('/f/'), 'ENOTDIR'],
      [o.unlink('/ld/'), 'ENOTDIR'],
      [o.unlink('/d/'), 'EISDIR'],
      [o.unlink('/none/'), 'ENOENT'],
      [o.rmdir('/f/'), 'ENOTDIR'],
      [o.rmdir('/ld/'), 'ENOTDIR'],
      [o.mkdir('/f/'), 'EEXIST'],
      [o.symlink('x', '/f/'), 'EEXIST'],
      [o.symlink('x', '/s/'), 'ENOENT'],
      [o.link('/f', '/h/'), 'ENOENT'],
      [o.link('/f/', '/h'), 'ENOTDIR'],
      [o.rename('/f/', '/g'), 'ENOTDIR'],
      [o.rename('/f', '/g/'), 'ENOTDIR'],
      [o.rename('/lf', '/g/'), 'ENOTDIR'],
      [o.mkdir('/n/'), 'ok'],
      [o.rename('/n/', '/m/'), 'ok'],
      [o.rmdir('/m/'), 'ok'],
      [o.rm('/lf/'), 'ENOTDIR'],
    ],
    tree: { '/d': 'dir', '/d/x': 'file', '/f': 'file x', '/ld': 'symlink d', '/lf': 'symlink f', '/loop': 'symlink loop' },
  },
  // read-only views
  {
    name: 'a read-only container refuses every change with EROFS',
    readOnly: true,
    lowers: [[d('/d'), f('/d/f', 'x'), ln('/l', 'd/f')]],
    steps: [
      [o.write('/d/f', 'y'), 'EROFS'],
      [o.write('/d/new', 'y'), 'EROFS'],
      [o.write('/l', 'y'), 'EROFS'],
      [o.write('/d', 'y'), 'EISDIR'],
      [o.mkdir('/d'), 'EEXIST'],
      [o.mkdir('/n'), 'EROFS'],
      [o.unlink('/missing'), 'EROFS'],
      [o.unlink('/d/f'), 'EROFS'],
      [o.rmdir('/d'), 'EROFS'],
      [o.rename('/d/f', '/g'), 'EROFS'],
      [o.chmod('/d/f', 0o600), 'EROFS'],
      [o.chmod('/missing', 0o600), 'ENOENT'],
      [o.truncate('/d', 0), 'EISDIR'],
      [o.truncate('/d/f', 0), 'EROFS'],
      [o.symlink('x', '/s'), 'EROFS'],
      [o.link('/d/f', '/h'), 'EROFS'],
      [o.utimes('/d/f', 5), 'EROFS'],
      [o.chown('/d/f', 1, 1), 'EROFS'],
      [o.lchown('/l', 1, 1), 'EROFS'],
      [o.read('/l'), v('x')],
      [o.ls('/d'), v(['f'])],
    ],
    tree: { '/d': 'dir', '/d/f': 'file x', '/l': 'symlink d/f' },
  },
  {
    name: 'an image view without an upper dir is read-only',
    noUpper: true,
    lowers: [[f('/top', 't')], [f('/low', 'l')]],
    steps: [
      [o.write('/top', 'x'), 'EROFS'],
      [o.mkdir('/n'), 'EROFS'],
      [o.ls('/'), v(['low', 'top'])],
    ],
    tree: { '/low': 'file l', '/top': 'file t' },
  },
];
