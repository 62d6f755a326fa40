/**
 * containerd's TestDiffTar (pkg/archive/tar_test.go) and go-archive's TestOverlayTarUntar
 * on `strata commit`: the base ops (`a`) are committed, a container of that image gets
 * the changes (`b`) and is committed, and the new layer's entries must be exactly the
 * listed ones, in order. Through the resolver in both whiteout encodings, and as root
 * through a kernel overlay mount of the container's directories.
 *
 * Where strata's list differs from containerd's, by design:
 * - the order is Docker's: its overlay2 commit walks the upper directory (Go's
 *   WalkDir: names in byte order, a directory before its children), so a whiteout
 *   `.wh.NAME` stands where NAME sorts, in either encoding; containerd's follows its
 *   diff walk, which writes d2/l1's data first and only then goes back to d1/;
 * - the layer is the container's upper: every directory copied up is a parent entry
 *   (as Docker's overlay2 commit does), and a hardlink to a lower file is that file
 *   copied up plus a link entry — the first name in that order carries the data;
 * - a whiteout is an empty file of mode 0600 and an opaque marker has its directory's
 *   mode, as go-archive's TestOverlayTarUntar expects of Docker's layers.
 */
import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { commitTwice, type ApplyVia } from '../helpers/replay.js';
import { savedImage } from '../helpers/saved-image.js';
import { entryLine } from '../helpers/layer-listing.js';
import { Chmod, Chtimes, CreateDir, CreateFile, CreateSocket, Link, Remove, RemoveAll, type Op } from '../helpers/fs-ops.js';
import { kernelOverlaySkipReason } from '../helpers/kernel-overlay.js';
import { overlayFormatSkipReason } from '../helpers/both-formats.js';
import { testUnless } from '../helpers/skip.js';

interface DiffTarCase {
  name: string;
  a: Op[];
  b: Op[];
  /** The new layer's entries; null: the commit adds no layer. */
  entries: string[] | null;
  /** What commit says on stderr (nothing when not given). */
  stderr?: string;
}

const octal = (mode: number) => mode.toString(8).padStart(4, '0');
// Everything the ops make is root's: the lines say 0:0.
const dir = (p: string, mode: number) => `${p} dir ${octal(mode)} 0:0`;
const file = (p: string, content: string, mode: number) => `${p} file ${octal(mode)} 0:0 ${JSON.stringify(content)}`;
const link = (p: string, target: string, mode = 0o644) => `${p} link ${octal(mode)} 0:0 -> ${target}`;
/** A whiteout as OCI writes it: an empty regular file named `.wh.NAME`. */
const whiteout = (p: string) => file(path.posix.join(path.posix.dirname(p), `.wh.${path.posix.basename(p)}`), '', 0o600);
const opaque = (d: string, mode: number) => file(`${d}.wh..wh..opq`, '', mode);

const CASES: DiffTarCase[] = [
  { name: 'EmptyDiff', a: [CreateDir('/etc/', 0o755)], b: [], entries: null },
  {
    name: 'ParentInclusion',
    a: [CreateDir('/d1/', 0o755), CreateDir('/d2/', 0o770)],
    b: [CreateDir('/d1/d', 0o700), CreateFile('/d2/f', 'ok', 0o644)],
    entries: [dir('d1/', 0o755), dir('d1/d/', 0o700), dir('d2/', 0o770), file('d2/f', 'ok', 0o644)],
  },
  {
    name: 'HardlinkParentInclusion',
    a: [
      CreateDir('/d1/', 0o755),
      CreateFile('/d1/f1', 'link me', 0o644),
      CreateDir('/d2/', 0o755),
      CreateFile('/d2/f1', 'link me', 0o644),
      CreateDir('/d3/', 0o755),
      CreateDir('/d4/', 0o755),
      CreateFile('/d4/f1', 'link me', 0o644),
      CreateDir('/d5/', 0o755),
      CreateFile('/d5/f1', 'link me', 0o644),
      CreateDir('/d6/', 0o755),
      Link('/d1/f1', '/d6/l1'),
      Link('/d5/f1', '/d6/l2'),
    ],
    b: [Link('/d1/f1', '/d2/l1'), Link('/d4/f1', '/d3/l1'), Remove('/d6/l1'), Remove('/d6/l2')],
    // containerd: d2/ d2/l1 d1/ d1/f1→d2/l1 d3/ d3/l1 d4/ d4/f1→d3/l1 d6/ d6/.wh.l1 d6/.wh.l2
    entries: [
      dir('d1/', 0o755),
      file('d1/f1', 'link me', 0o644),
      dir('d2/', 0o755),
      link('d2/l1', 'd1/f1'),
      dir('d3/', 0o755),
      file('d3/l1', 'link me', 0o644),
      dir('d4/', 0o755),
      link('d4/f1', 'd3/l1'),
      dir('d6/', 0o755),
      whiteout('d6/l1'),
      whiteout('d6/l2'),
    ],
  },
  {
    name: 'UpdateDirectoryPermission',
    a: [CreateDir('/d1/', 0o755), CreateDir('/d2/', 0o770)],
    b: [Chmod('/d1', 0o777), CreateDir('/d1/d', 0o700), CreateFile('/d2/f', 'ok', 0o644)],
    entries: [dir('d1/', 0o777), dir('d1/d/', 0o700), dir('d2/', 0o770), file('d2/f', 'ok', 0o644)],
  },
  {
    name: 'HardlinkUpdatedParent',
    a: [
      CreateDir('/d1/', 0o755),
      CreateFile('/d1/f1', 'link me', 0o644),
      CreateDir('/d2/', 0o755),
      CreateFile('/d2/f1', 'link me', 0o644),
      CreateDir('/d3/', 0o755),
      CreateFile('/d3/f1', 'link me', 0o644),
      CreateDir('/d4/', 0o755),
    ],
    b: [Chmod('/d1', 0o777), Link('/d1/f1', '/d2/l1'), Chmod('/d4', 0o777), Link('/d3/f1', '/d4/l1')],
    // containerd: d1/ d2/ d2/l1 d1/f1→d2/l1 d4/ d4/l1 d3/ d3/f1→d4/l1
    entries: [
      dir('d1/', 0o777),
      file('d1/f1', 'link me', 0o644),
      dir('d2/', 0o755),
      link('d2/l1', 'd1/f1'),
      dir('d3/', 0o755),
      file('d3/f1', 'link me', 0o644),
      dir('d4/', 0o777),
      link('d4/l1', 'd3/f1'),
    ],
  },
  {
    name: 'WhiteoutIncludesParents',
    a: [
      CreateDir('/d1/', 0o755),
      CreateFile('/d1/f1', 'content', 0o644),
      CreateDir('/d2/', 0o755),
      CreateFile('/d2/f1', 'content', 0o644),
      CreateFile('/d2/f2', 'content', 0o644),
      CreateDir('/d3/', 0o755),
      CreateFile('/d3/f1', 'content', 0o644),
      CreateDir('/d4/', 0o755),
      CreateFile('/d4/f1', 'content', 0o644),
      CreateDir('/d5/', 0o755),
      CreateFile('/d5/f1', 'content', 0o644),
    ],
    b: [
      Remove('/d1/f1'),
      Remove('/d2/f1'),
      Chmod('/d2/f2', 0o777),
      Remove('/d3/f1'),
      CreateFile('/d3/f2', 'content', 0o644),
      Remove('/d4/f1'),
      CreateFile('/d4/f0', 'content', 0o644),
      RemoveAll('/d5'),
    ],
    // containerd: d1/ d1/.wh.f1 d2/ d2/.wh.f1 d2/f2 d3/ d3/.wh.f1 d3/f2 d4/ d4/f0 d4/.wh.f1 .wh.d5
    entries: [
      dir('d1/', 0o755),
      whiteout('d1/f1'),
      dir('d2/', 0o755),
      whiteout('d2/f1'),
      file('d2/f2', 'content', 0o777),
      dir('d3/', 0o755),
      whiteout('d3/f1'),
      file('d3/f2', 'content', 0o644),
      dir('d4/', 0o755),
      file('d4/f0', 'content', 0o644),
      whiteout('d4/f1'),
      whiteout('d5'),
    ],
  },
  {
    name: 'WhiteoutParentRemoval',
    a: [CreateDir('/d1/', 0o755), CreateDir('/d2/', 0o755), CreateFile('/d2/f1', 'content', 0o644)],
    b: [RemoveAll('/d1'), RemoveAll('/d2'), CreateDir('/d3/', 0o755)],
    entries: [whiteout('d1'), whiteout('d2'), dir('d3/', 0o755)],
  },
  {
    name: 'IgnoreSockets',
    a: [CreateFile('/f1', 'content', 0o644)],
    b: [CreateFile('/f2', 'content', 0o644), CreateSocket('/s0', 0o644), CreateFile('/f3', 'content', 0o644)],
    entries: [file('f2', 'content', 0o644), file('f3', 'content', 0o644)],
    stderr: 'strata: warning: skipped /s0 (socket): a tar archive cannot hold a socket\n',
  },
  {
    // go-archive archive_linux_test.go TestOverlayTarUntar: two opaque directories and a
    // whiteout, made by deleting and re-creating; no xattr of overlay's own in the tar.
    name: 'go-archive OverlayTarUntar',
    a: [
      CreateDir('/d1', 0o700),
      CreateFile('/d1/old', '', 0o644),
      CreateDir('/d2', 0o750),
      CreateFile('/d2/old', '', 0o644),
      CreateDir('/d3', 0o700),
      CreateFile('/d3/f1', '', 0o644),
    ],
    b: [
      RemoveAll('/d1'),
      CreateDir('/d1', 0o700),
      CreateFile('/d1/f1', '', 0o600),
      RemoveAll('/d2'),
      CreateDir('/d2', 0o750),
      CreateFile('/d2/f1', '', 0o660),
      Remove('/d3/f1'),
    ],
    entries: [
      dir('d1/', 0o700),
      opaque('d1/', 0o700),
      file('d1/f1', '', 0o600),
      dir('d2/', 0o750),
      opaque('d2/', 0o750),
      file('d2/f1', '', 0o660),
      dir('d3/', 0o700),
      whiteout('d3/f1'),
    ],
  },
];

async function commitDiff(t: ExecutionContext, c: DiffTarCase, via: ApplyVia, format: WhiteoutFormat): Promise<void> {
  const { store, scratch, commit: second } = await commitTwice(t, c.a, c.b, via, format);
  t.is(second.code, 0, second.stderr);
  t.regex(second.stdout, /^sha256:[0-9a-f]{64}\n$/);

  const before = await savedImage(store, 'diff:a', scratch);
  const after = await savedImage(store, 'diff:b', scratch);
  if (c.entries === null) {
    t.deepEqual(after.layerPaths, before.layerPaths, 'an unchanged container adds no layer');
    t.is(second.stderr, '');
    return;
  }
  t.deepEqual(after.layerPaths.slice(0, -1), before.layerPaths, 'one layer more, on the same ones');
  const layer = after.layers.at(-1)!;
  t.deepEqual(layer.map(entryLine), c.entries);
  t.deepEqual(
    layer.flatMap((e) => [...e.pax.keys()].filter((k) => k.startsWith('SCHILY.xattr.')).map((k) => `${e.name} ${k}`)),
    [],
    'no xattrs: neither overlay’s own nor any other was set',
  );
  if (c.stderr === undefined) t.is(second.stderr, '');
  else t.is(second.stderr, c.stderr);
}

const diffTar = test.macro({
  exec: (t, c: DiffTarCase, via: ApplyVia, format: WhiteoutFormat) => commitDiff(t, c, via, format),
  title: (_, c: DiffTarCase, via: ApplyVia, format: WhiteoutFormat) =>
    `commit's layer for ${c.name} holds exactly containerd's entries, in Docker's order (${via === 'kernel' ? 'kernel overlay mount' : `resolver, ${format}`})`,
});

const kernel = testUnless(await kernelOverlaySkipReason());
const overlayFormat = testUnless(overlayFormatSkipReason);
for (const c of CASES) {
  test(diffTar, c, 'resolver', 'oci');
  overlayFormat(diffTar, c, 'resolver', 'overlay');
  kernel(diffTar, c, 'kernel', 'overlay');
}

/**
 * containerd's TestSourceDateEpoch: with an epoch, a whiteout's mtime is 0 (not the
 * epoch), an older mtime stays, a newer one is clamped to the epoch.
 */
const sourceDateEpoch = test.macro({
  exec: async (t, via: ApplyVia, format: WhiteoutFormat) => {
    const epoch = Date.UTC(2022, 0, 23, 12, 34, 56) / 1000;
    const past = Date.UTC(2022, 0, 1) / 1000;
    const now = Math.floor(Date.now() / 1000);
    const a = [CreateFile('/f1', 'content', 0o644)];
    const b = [
      RemoveAll('/f1'),
      CreateFile('/f2', 'content2', 0o644),
      Chtimes('/f2', past, past),
      CreateFile('/f3', 'content3', 0o644),
      Chtimes('/f3', now, now),
    ];
    const { store, scratch, commit } = await commitTwice(t, a, b, via, format, ['--source-date-epoch', String(epoch)]);
    t.is(commit.code, 0, commit.stderr);
    const layer = (await savedImage(store, 'diff:b', scratch)).layers.at(-1)!;
    t.deepEqual(
      layer.map((e) => `${entryLine(e)} mtime=${e.mtime}`),
      [`${whiteout('f1')} mtime=0`, `${file('f2', 'content2', 0o644)} mtime=${past}`, `${file('f3', 'content3', 0o644)} mtime=${epoch}`],
    );
  },
  title: (_, via: ApplyVia, format: WhiteoutFormat) =>
    `commit --source-date-epoch keeps older mtimes, clamps newer ones and gives whiteouts 0, as containerd's TestSourceDateEpoch (${via === 'kernel' ? 'kernel overlay mount' : `resolver, ${format}`})`,
});

test(sourceDateEpoch, 'resolver', 'oci');
overlayFormat(sourceDateEpoch, 'resolver', 'overlay');
kernel(sourceDateEpoch, 'kernel', 'overlay');
