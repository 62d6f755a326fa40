import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { Resolver, formatTreeTsv } from '../../src/resolver/index.js';
import { kernelOverlaySkipReason, mountOverlay } from '../helpers/kernel-overlay.js';
import { MAX_LOWER_DIRS } from '../../src/mount/overlay-options.js';
import { Rng } from '../helpers/rng.js';
import { testUnless } from '../helpers/skip.js';
import {
  buildLayer,
  kernelDriver,
  resolverDriver,
  snapshotOf,
  type Driver,
  type LayerEntry,
  type Op,
  type Outcome,
  type StatView,
} from './suite.js';

/**
 * Differential test: random lower layers and random operation sequences, applied to
 * the resolver (its own upper) and to a kernel overlay mount of the same lowers (a
 * fresh upper), compared after every step (result or errno) and at the end of every
 * sequence (the whole merged tree: names, types, modes, sizes, contents, link targets,
 * link counts, owners, old mtimes). The kernel is right. Seeded: a failure prints the
 * seed and the sequence so it can be replayed with STRATA_DIFF_SEED/STRATA_DIFF_ONLY.
 */
const SEQUENCES = Number(process.env.STRATA_DIFF_SEQUENCES ?? 200);
const OPS_PER_SEQUENCE = Number(process.env.STRATA_DIFF_OPS ?? 12);
const SEED = Number(process.env.STRATA_DIFF_SEED ?? 20_260_101);
const ONLY = process.env.STRATA_DIFF_ONLY === undefined ? null : Number(process.env.STRATA_DIFF_ONLY);
/** Sequences in flight at once: most of a sequence's time is spent waiting on mount, mknod and python. */
const JOBS = Number(process.env.STRATA_DIFF_JOBS ?? 3);

const NAMES = ['a', 'b', 'c', 'd'] as const;

function randomPath(rng: Rng, maxDepth = 3, names: readonly string[] = NAMES): string {
  const depth = 1 + rng.int(maxDepth);
  return `/${Array.from({ length: depth }, () => rng.pick(names)).join('/')}`;
}

function randomData(rng: Rng): string {
  if (rng.chance(0.02)) return 'x'.repeat(70_000 + rng.int(1000)); // more than one stream chunk
  return Array.from({ length: rng.int(24) }, () => rng.pick('abcdefgh\n'.split(''))).join('');
}

function randomTarget(rng: Rng, self: string): string {
  switch (rng.int(7)) {
    case 0:
      return randomPath(rng);
    case 1:
      return randomPath(rng, 2).slice(1);
    case 2:
      return `${'../'.repeat(1 + rng.int(4))}${rng.pick(NAMES)}`;
    case 3:
      return rng.pick(['/', '.', '..', '/zz', 'zz/y']);
    case 4:
      return path.posix.basename(self); // a loop
    case 5:
      return `../${rng.pick(NAMES)}/${rng.pick(NAMES)}`;
    default:
      return rng.pick(NAMES);
  }
}

// ---- random lowers --------------------------------------------------------------

type Kind = 'file' | 'dir' | 'opaque' | 'symlink' | 'whiteout';

/** What one layer holds at each path, implicit parent directories included. */
type LayerModel = Map<string, Kind>;

/**
 * Looks `p` up in a stack of layer models (top first) with overlayfs' rules: the
 * generator uses it to put whiteouts only where they are well-formed (see below).
 */
function modelLookup(layers: LayerModel[], p: string): 'dir' | 'other' | null {
  let stack = layers;
  let at = '';
  const parts = p.split('/').filter(Boolean);
  for (const [i, part] of parts.entries()) {
    at += `/${part}`;
    const next: LayerModel[] = [];
    let found: 'dir' | 'other' | null = null;
    for (const layer of stack) {
      const k = layer.get(at);
      if (k === undefined) continue;
      if (k === 'whiteout') break;
      if (k !== 'dir' && k !== 'opaque') {
        if (next.length === 0) found = 'other';
        break;
      }
      next.push(layer);
      found = 'dir';
      if (k === 'opaque') break;
    }
    if (found !== 'dir') return i === parts.length - 1 ? found : null;
    stack = next;
  }
  return 'dir';
}

/**
 * Random layers, top first. One restriction, which real layers also keep: a whiteout
 * only goes into a directory that merges with a lower one. In a directory served by a
 * single layer (opaque, or new in that layer) overlayfs reads the real directory and
 * lists whiteouts as names that then fail lookup with ENOENT — DESIGN.md's pitfall,
 * input no unpacker produces, and not something the resolver should imitate.
 */
function randomLayers(rng: Rng, layerCount?: number): LayerEntry[][] {
  const count = layerCount ?? 1 + rng.int(3);
  const models: LayerModel[] = []; // bottom first while building
  const layers: LayerEntry[][] = [];
  for (let i = 0; i < count; i++) {
    const model: LayerModel = new Map();
    const entries: LayerEntry[] = [];
    const below = [...models].reverse();
    const files: string[] = [];
    for (let n = 2 + rng.int(8); n > 0; n--) {
      const p = randomPath(rng);
      const kind = rng.weighted({ file: 30, dir: 20, opaque: 6, symlink: 16, whiteout: 14, hardlink: 5 });
      if (model.has(p) || ancestors(p).some((a) => model.has(a) && !isDir(model.get(a)!))) continue;
      const parent = path.posix.dirname(p);
      if (kind === 'whiteout') {
        const parentOk = ancestors(p).every((a) => model.get(a) !== 'opaque') && (parent === '/' || modelLookup(below, parent) === 'dir');
        if (!parentOk || below.length === 0) continue;
      }
      if (kind === 'opaque' && [...model].some(([q, k]) => k === 'whiteout' && q.startsWith(`${p}/`))) continue;
      if (kind === 'hardlink' && files.length === 0) continue;
      for (const a of ancestors(p)) if (!model.has(a)) model.set(a, 'dir');
      switch (kind) {
        case 'file':
          entries.push({ kind: 'file', path: p, data: randomData(rng), mode: rng.pick([0o644, 0o600, 0o755, 0o4755, 0o444]) });
          model.set(p, 'file');
          files.push(p);
          break;
        case 'dir':
        case 'opaque':
          entries.push({ kind: 'dir', path: p, mode: rng.pick([0o755, 0o700, 0o2775, 0o555]), opaque: kind === 'opaque' });
          model.set(p, kind);
          break;
        case 'symlink':
          entries.push({ kind: 'symlink', path: p, target: randomTarget(rng, p) });
          model.set(p, 'symlink');
          break;
        case 'whiteout':
          entries.push({ kind: 'whiteout', path: p });
          model.set(p, 'whiteout');
          break;
        case 'hardlink':
          entries.push({ kind: 'hardlink', path: p, target: rng.pick(files) });
          model.set(p, 'file');
          break;
      }
    }
    models.push(model);
    layers.push(entries);
  }
  return layers.reverse();
}

function ancestors(p: string): string[] {
  const out: string[] = [];
  for (let a = path.posix.dirname(p); a !== '/'; a = path.posix.dirname(a)) out.unshift(a);
  return out;
}

function isDir(k: Kind): boolean {
  return k === 'dir' || k === 'opaque';
}

// ---- random operations ----------------------------------------------------------

type Known = [path: string, type: string][];

/**
 * Paths the sequence will use: mostly ones that exist now (the kernel's merged tree,
 * of the type the call wants when it wants one), some new or below an existing one,
 * some through `..`, a few with a trailing slash. Generated step by step, so a seed still replays exactly.
 */
function opPath(rng: Rng, known: Known, prefer?: string): string {
  const pool = prefer !== undefined && rng.chance(0.6) ? known.filter(([, t]) => t === prefer) : known;
  let p = pool.length > 0 && rng.chance(0.75) ? rng.pick(pool)[0] : randomPath(rng, 3, rng.chance(0.15) ? [...NAMES, 'e'] : NAMES);
  if (rng.chance(0.12)) p = `${p}/${rng.pick([...NAMES, 'e'])}`;
  if (rng.chance(0.05)) p = `${p}/../${rng.pick(NAMES)}`;
  if (rng.chance(0.04)) p = `${p}/`;
  return p;
}

/** A name that usually does not exist yet, in a directory that does: where creations succeed. */
function newPath(rng: Rng, known: Known): string {
  if (!rng.chance(0.6)) return opPath(rng, known);
  const dirs = known.filter(([, t]) => t === 'dir').map(([p]) => p);
  const dir = dirs.length > 0 && rng.chance(0.8) ? rng.pick(dirs) : '';
  return `${dir}/${rng.pick([...NAMES, 'e', 'f'])}`;
}

const MODES = [0o755, 0o644, 0o700, 0o600, 0o4755, 0o2755, 0o777, 0o000];

function randomOp(rng: Rng, known: Known): Op {
  const kind = rng.weighted({
    writeFile: 12,
    appendFile: 6,
    truncate: 5,
    mkdir: 8,
    mkdirp: 5,
    unlink: 8,
    rmdir: 6,
    rmr: 6,
    rename: 14,
    symlink: 6,
    link: 6,
    chmod: 6,
    chown: 3,
    utimes: 4,
    readFile: 3,
    readdir: 3,
    lstat: 2,
    stat: 2,
    readlink: 1,
    realpath: 2,
  });
  const at = (prefer?: string): string => opPath(rng, known, prefer);
  const fresh = (): string => newPath(rng, known);
  switch (kind) {
    case 'writeFile': {
      const p = rng.chance(0.3) ? fresh() : at('file');
      return rng.chance(0.3)
        ? { op: 'writeFile', path: p, data: randomData(rng), mode: rng.pick(MODES) }
        : { op: 'writeFile', path: p, data: randomData(rng) };
    }
    case 'appendFile':
      return { op: 'appendFile', path: at('file'), data: randomData(rng) };
    case 'truncate':
      return { op: 'truncate', path: at('file'), len: rng.int(20) };
    case 'mkdir':
      return rng.chance(0.3)
        ? { op: 'mkdir', path: fresh(), mode: rng.pick([0o755, 0o700, 0o2775, 0o777]) }
        : { op: 'mkdir', path: fresh() };
    case 'mkdirp':
      return { op: 'mkdir', path: rng.chance(0.5) ? `${fresh()}/${rng.pick(NAMES)}` : at(), recursive: true };
    case 'unlink':
      return { op: 'unlink', path: at(rng.pick(['file', 'symlink'])) };
    case 'rmdir':
      return { op: 'rmdir', path: at('dir') };
    case 'rmr':
      return { op: 'rm', path: at(), recursive: true, force: rng.chance(0.5) };
    case 'rename':
      return { op: 'rename', from: at(rng.pick(['file', 'dir', 'symlink'])), to: rng.chance(0.5) ? fresh() : at() };
    case 'symlink': {
      const p = fresh();
      return { op: 'symlink', target: randomTarget(rng, p), path: p };
    }
    case 'link':
      return { op: 'link', existing: at(rng.pick(['file', 'symlink'])), path: fresh() };
    case 'chmod':
      return { op: 'chmod', path: at(), mode: rng.pick(MODES) };
    case 'chown':
      return { op: 'chown', path: at(), uid: rng.pick([0, 1000, 4242]), gid: rng.pick([0, 100, 4242]) };
    case 'utimes':
      return { op: 'utimes', path: at(), atime: 1_100_000_000 + rng.int(1000), mtime: 1_100_000_000 + rng.int(1000) };
    case 'readFile':
      return { op: 'readFile', path: at('file') };
    case 'readdir':
      return { op: 'readdir', path: at('dir') };
    case 'lstat':
      return { op: 'lstat', path: at() };
    case 'stat':
      return { op: 'stat', path: at() };
    case 'readlink':
      return { op: 'readlink', path: at('symlink') };
    case 'realpath':
      return { op: 'realpath', path: at() };
  }
}

// ---- running --------------------------------------------------------------------

interface Sequence {
  index: number;
  format: WhiteoutFormat;
  layers: LayerEntry[][];
  rng: Rng;
  /** The operations run so far (generated as the sequence goes). */
  ops: Op[];
}

function makeSequence(index: number, layerCount?: number): Sequence {
  const rng = new Rng(SEED + index * 7919);
  // Alternate encodings: the kernel always reads overlay-encoded lowers; the resolver
  // reads the same layers in its own store's encoding.
  const format: WhiteoutFormat = index % 2 === 0 ? 'overlay' : 'oci';
  return { index, format, layers: randomLayers(rng, layerCount), rng, ops: [] };
}

interface Verdict {
  operations: number;
  failure: string | null;
}

/** op → outcome (ok or errno) → count: shows the sequences reach the interesting paths. */
const tally = new Map<string, Map<string, number>>();

function count(op: Op, out: Outcome): void {
  const name = op.op === 'mkdir' && op.recursive ? 'mkdir -p' : op.op === 'rm' ? 'rm -r' : op.op;
  const byOutcome = tally.get(name) ?? new Map<string, number>();
  const key = out.ok ? 'ok' : out.code;
  byOutcome.set(key, (byOutcome.get(key) ?? 0) + 1);
  tally.set(name, byOutcome);
}

function showTally(): string {
  return [...tally]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([op, m]) =>
        `${op}: ${[...m]
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}`,
    )
    .join('\n');
}

async function buildLowers(root: string, layers: LayerEntry[][], format: WhiteoutFormat): Promise<string[]> {
  const dirs: string[] = [];
  for (const [i, entries] of layers.entries()) {
    const dir = path.join(root, `lower${i}`);
    await buildLayer(dir, entries, format);
    dirs.push(dir);
  }
  return dirs;
}

/** The lowers as plain files, to prove neither side ever wrote to them. */
async function lowersFingerprint(dirs: string[]): Promise<string> {
  const out: string[] = [];
  for (const dir of dirs) {
    const plain = new Resolver({ lowerDirs: [], format: 'overlay', mounts: [{ path: '/', source: dir, readOnly: true }] });
    for await (const w of plain.walk('/'))
      out.push(`${dir} ${w.path} ${w.stats.type} ${w.stats.mode} ${w.stats.size} ${w.stats.mtimeMs} ${w.stats.nlink}`);
  }
  return out.join('\n');
}

async function runSequence(seq: Sequence): Promise<Verdict> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-diff-'));
  let kernel: Driver | null = null;
  let resolver: Driver | null = null;
  try {
    const kernelLowers = await buildLowers(path.join(root, 'kernel-layers'), seq.layers, 'overlay');
    const resolverLowers = seq.format === 'overlay' ? kernelLowers : await buildLowers(path.join(root, 'oci-layers'), seq.layers, 'oci');
    const before = await lowersFingerprint([...new Set([...kernelLowers, ...resolverLowers])]);
    await fs.mkdir(path.join(root, 'k'));
    await fs.mkdir(path.join(root, 'r'));
    kernel = await kernelDriver(kernelLowers, {}, path.join(root, 'k'));
    resolver = await resolverDriver(seq.format)(resolverLowers, {}, path.join(root, 'r'));
    let operations = 0;
    for (let step = 0; step < OPS_PER_SEQUENCE; step++) {
      const op = randomOp(seq.rng, await kernel.list());
      seq.ops.push(op);
      const want = await kernel.apply(op);
      const got = await resolver.apply(op);
      operations++;
      count(op, want);
      if (!sameOutcome(want, got)) {
        return {
          operations,
          failure: report(seq, `step ${step}: ${JSON.stringify(op)}\n  kernel:   ${show(want)}\n  resolver: ${show(got)}`),
        };
      }
    }
    const [k, r] = [await kernel.snapshot(), await resolver.snapshot()];
    const treeDiff = diffLines(formatTreeTsv(k.rows), formatTreeTsv(r.rows));
    if (treeDiff !== null) return { operations, failure: report(seq, `merged trees differ:\n${treeDiff}`) };
    const statDiff = diffLines(showStats(k.stats), showStats(r.stats));
    if (statDiff !== null) return { operations, failure: report(seq, `stats differ:\n${statDiff}`) };
    const after = await lowersFingerprint([...new Set([...kernelLowers, ...resolverLowers])]);
    if (after !== before) return { operations, failure: report(seq, 'a lower layer was modified') };
    // The upper dirs must mean the same on disk, not only through their own reader.
    await kernel.close();
    kernel = null;
    const crossed = await crossCheckUppers(root, seq, kernelLowers, k);
    return { operations, failure: crossed === null ? null : report(seq, crossed) };
  } finally {
    await kernel?.close();
    await resolver?.close();
    await fs.rm(root, { recursive: true, force: true });
  }
}

/**
 * (A) the resolver reading the upper the kernel wrote, and (B) for the overlay
 * encoding the kernel mounting the upper the resolver wrote (as `docker diff` or a
 * commit would use it), must both show the tree the kernel showed.
 */
async function crossCheckUppers(root: string, seq: Sequence, kernelLowers: string[], k: Snapshot): Promise<string | null> {
  const reader = new Resolver({ lowerDirs: kernelLowers, upperDir: path.join(root, 'k', 'upper'), format: 'overlay', readOnly: true });
  const a = await snapshotOf(reader);
  const aDiff = diffLines(formatTreeTsv(k.rows), formatTreeTsv(a.rows)) ?? diffLines(showStats(k.stats), showStats(a.stats));
  if (aDiff !== null) return `the resolver reads the kernel's upper dir differently:\n${aDiff}`;
  // (B) stacks the resolver's upper on the lowers: at the kernel's 500 lowers there is no room for it.
  if (seq.format !== 'overlay' || kernelLowers.length >= MAX_LOWER_DIRS) return null;
  const target = path.join(root, 'cross');
  await fs.mkdir(target);
  const mount = await mountOverlay({ lowerDirs: [path.join(root, 'r', 'upper'), ...kernelLowers], target });
  let b: Snapshot;
  try {
    b = await snapshotOf(new Resolver({ lowerDirs: [], format: 'overlay', mounts: [{ path: '/', source: target, readOnly: true }] }));
  } finally {
    await mount.unmount();
  }
  const bDiff = diffLines(formatTreeTsv(k.rows), formatTreeTsv(b.rows)) ?? diffLines(showStats(k.stats), showStats(b.stats));
  return bDiff === null ? null : `the kernel reads the resolver's upper dir differently:\n${bDiff}`;
}

type Snapshot = Awaited<ReturnType<typeof snapshotOf>>;

function sameOutcome(a: Outcome, b: Outcome): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function show(o: Outcome): string {
  const s = JSON.stringify(o);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

function showStats(stats: Map<string, StatView>): string {
  return [...stats]
    .map(([p, s]) => `${p} ${JSON.stringify(s)}`)
    .sort()
    .join('\n');
}

function diffLines(want: string, got: string): string | null {
  if (want === got) return null;
  const [a, b] = [new Set(want.split('\n')), new Set(got.split('\n'))];
  return [
    ...[...a].filter((l) => !b.has(l)).map((l) => `  kernel only:   ${l}`),
    ...[...b].filter((l) => !a.has(l)).map((l) => `  resolver only: ${l}`),
  ].join('\n');
}

function report(seq: Sequence, what: string): string {
  return [
    `sequence ${seq.index} (STRATA_DIFF_SEED=${SEED} STRATA_DIFF_ONLY=${seq.index}), resolver format ${seq.format}`,
    what,
    `lowers (top first): ${JSON.stringify(seq.layers.map((l) => l.map((e) => ({ ...e, ...('data' in e ? { data: e.data.length > 40 ? `<${e.data.length} bytes>` : e.data } : {}) }))))}`,
    `ops: ${seq.ops.map((op) => JSON.stringify(op)).join('\n     ')}`,
  ].join('\n');
}

testUnless(await kernelOverlaySkipReason())('the resolver matches kernel overlayfs on random layers and operation sequences', async (t) => {
  t.timeout(10 * 60_000);
  const previousUmask = process.umask(0o022); // the resolver's default, and the chroot driver's
  try {
    const indexes = ONLY === null ? Array.from({ length: SEQUENCES }, (_, i) => i) : [ONLY];
    const failures: [number, string][] = [];
    let operations = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < indexes.length && failures.length < 5) {
        const index = indexes[next++]!;
        const verdict = await runSequence(makeSequence(index));
        operations += verdict.operations;
        if (verdict.failure !== null) failures.push([index, verdict.failure]);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, JOBS) }, worker));
    failures.sort(([a], [b]) => a - b);
    t.log(`${indexes.length} sequences, ${operations} operations compared (seed ${SEED})\n${showTally()}`);
    t.is(failures.length, 0, `${failures.length} sequence(s) disagree with the kernel:\n\n${failures.map(([, f]) => f).join('\n\n')}`);
    if (ONLY === null && failures.length === 0) t.true(operations >= Math.min(2000, SEQUENCES * OPS_PER_SEQUENCE));
  } finally {
    process.umask(previousUmask);
  }
});

/**
 * Deep stacks, past the page of mount options: containerd's 128-layer case and the
 * kernel's own limit of 500 lowers, each in both encodings. The kernel side mounts
 * its lowers by fd, as strata does (test/helpers/kernel-overlay.ts).
 */
const DEEP = [130, 130, 500, 500];
/** Their sequence numbers (seeds), apart from the shallow ones. */
const DEEP_INDEX = 100_000;

testUnless(await kernelOverlaySkipReason())('the resolver matches kernel overlayfs on 130 and 500 random layers', async (t) => {
  t.timeout(10 * 60_000);
  const previousUmask = process.umask(0o022);
  try {
    const failures: string[] = [];
    let operations = 0;
    for (const [i, layerCount] of DEEP.entries()) {
      const seq = makeSequence(DEEP_INDEX + i, layerCount);
      t.is(seq.layers.length, layerCount);
      const verdict = await runSequence(seq);
      operations += verdict.operations;
      if (verdict.failure !== null) failures.push(verdict.failure);
    }
    t.is(failures.length, 0, `${failures.length} deep sequence(s) disagree with the kernel:\n\n${failures.join('\n\n')}`);
    t.is(operations, DEEP.length * OPS_PER_SEQUENCE);
  } finally {
    process.umask(previousUmask);
  }
});
