/**
 * The public breakout catalogues (reference/unpack-breakouts.md: containerd's
 * TestBreakouts and moby's list) plus strata's own, one row per attack, with our
 * policy from DESIGN.md: links written through are contained (re-rooted inside the
 * layer), names and hardlink targets that climb above the root are rejected, bad
 * whiteout names are invalid archives.
 *
 * Wherever the catalogues aim at the host's /etc, the rows aim at a real "victim"
 * directory beside the store (`E` is its absolute path; `up(d)` is a relative climb
 * that reaches it from a link d levels below the layer root if `..` were not clamped).
 * Every row checks that the victim is byte-for-byte untouched and that nothing new
 * appeared beside the store; a rejection also leaves layers/ empty.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { makeTar, type TarEntry } from '../helpers/make-tar.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { testInFormat } from '../helpers/both-formats.js';
import { exists, listTree, readText, rejects, sameInode, unpack } from './helpers.js';

interface Scene {
  /** Absolute host path of the victim directory: what the catalogues call /etc. */
  E: string;
  /** `../` enough times to reach the victim from a link `depth` levels below the layer root. */
  up(depth: number): string;
  /** The test's temp directory, holding only `store` and `victim`. */
  testDir: string;
}

interface Row {
  from: 'containerd' | 'moby' | 'strata';
  name: string;
  tar: (s: Scene) => TarEntry[];
  expect: 'ok' | 'EINVALIDARCHIVE';
  /** For rejections: the entry the message must name. */
  entry?: (s: Scene) => string;
  /** For rejections: a phrase of the reason. */
  reason?: RegExp;
  /** For successes: where the effect landed inside the layer (L joins paths under the diff dir). */
  check?: (t: ExecutionContext, L: (...parts: string[]) => string, s: Scene) => Promise<unknown>;
  format?: WhiteoutFormat;
}

const file = (name: string, content = ''): TarEntry => ({ name, content });
const dir = (name: string): TarEntry => ({ name: name.endsWith('/') ? name : `${name}/`, type: 'directory' });
const symlink = (name: string, linkname: string): TarEntry => ({ name, type: 'symlink', linkname });
const hardlink = (name: string, linkname: string): TarEntry => ({ name, type: 'link', linkname });

const VICTIM = { hello: 'hello from the host\n', passwd: 'root:x:0:0:host:/root:/bin/sh\n', perm400: 'host secret\n' };

const breakout = test.macro({
  async exec(t, row: Row) {
    const { store, dir: testDir } = await tmpStore(t, { whiteoutFormat: row.format ?? 'oci' });
    const victim = path.join(testDir, 'victim');
    await fs.mkdir(victim);
    for (const [name, content] of Object.entries(VICTIM)) await fs.writeFile(path.join(victim, name), content);
    await fs.chmod(path.join(victim, 'perm400'), 0o400);
    const before = await listTree(victim);
    const scene: Scene = { E: victim, up: (depth) => `${'../'.repeat(4 + depth)}victim`, testDir };
    // The climb must really reach the victim from the layer root (diff → temp → layers → store → testDir).
    t.is(path.resolve(store.paths.layersDir, 'x', 'diff', scene.up(0)), victim);

    const tar = await makeTar(row.tar(scene));
    if (row.expect === 'ok') {
      const { diff } = await unpack(store, tar);
      await row.check?.(t, (...parts) => path.join(diff, ...parts), scene);
    } else {
      const err = await rejects(t, store, tar, row.expect);
      if (row.entry) t.true(err.message.includes(JSON.stringify(row.entry(scene))), `names the entry: ${err.message}`);
      if (row.reason) t.regex(err.message, row.reason);
    }
    t.deepEqual(await listTree(victim), before, 'the victim directory is untouched');
    t.deepEqual((await fs.readdir(testDir)).sort(), ['store', 'victim'], 'nothing appeared beside the store');
  },
  title: (_provided, row: Row) =>
    `${row.from} ${row.name}${row.format ? ` (${row.format})` : ''}: ${row.expect === 'ok' ? 'contained in the layer' : `rejected as ${row.expect}`}`,
});

async function isSymlinkTo(t: ExecutionContext, link: string, target: string): Promise<void> {
  t.true((await fs.lstat(link)).isSymbolicLink(), `${link} is a symlink`);
  t.is(await fs.readlink(link), target);
}

const rows: Row[] = [
  // containerd pkg/archive/tar_test.go TestBreakouts
  {
    from: 'containerd',
    name: 'SymlinkAbsolute',
    expect: 'ok',
    tar: ({ E }) => [dir(E), symlink('localetc', E), file('localetc/unbroken', 'unbroken')],
    check: async (t, L, { E }) => {
      t.is(await readText(L(E, 'unbroken')), 'unbroken');
      await isSymlinkTo(t, L('localetc'), E);
    },
  },
  {
    from: 'containerd',
    name: 'SymlinkUpAndOut',
    expect: 'ok',
    tar: ({ E }) => [symlink('localetc', `/dummy/..${E}`), file('localetc/unbroken', 'unbroken')],
    check: async (t, L, { E }) => t.is(await readText(L(E, 'unbroken')), 'unbroken'),
  },
  {
    from: 'containerd',
    name: 'SymlinkMultipleAbsolute',
    expect: 'ok',
    tar: ({ E }) => [symlink('dummy/etc', E), symlink('localetc', '/dummy/etc'), file('localetc/unbroken', 'unbroken')],
    check: async (t, L, { E }) => t.is(await readText(L(E, 'unbroken')), 'unbroken'),
  },
  {
    from: 'containerd',
    name: 'SymlinkMultipleRelative',
    expect: 'ok',
    tar: ({ E }) => [symlink('dummy/etc', E), symlink('localetc', './dummy/etc'), file('localetc/unbroken', 'unbroken')],
    check: async (t, L, { E }) => t.is(await readText(L(E, 'unbroken')), 'unbroken'),
  },
  {
    from: 'containerd',
    name: 'SymlinkEmptyFile',
    expect: 'ok',
    tar: ({ E }) => [file(`${E}/hello`, 'notempty'), symlink('localetc', E), file('localetc/hello', '')],
    check: async (t, L, { E }) => t.is(await readText(L(E, 'hello')), ''),
  },
  {
    from: 'containerd',
    name: 'HardlinkRelative',
    expect: 'ok',
    tar: ({ up }) => [
      file('victim/passwd', 'layer passwd'),
      symlink('breakouts/d1', up(1)),
      hardlink('breakouts/mypasswd', '/breakouts/d1/passwd'),
    ],
    check: async (t, L) => t.true(await sameInode(L('breakouts/mypasswd'), L('victim/passwd'))),
  },
  {
    from: 'containerd',
    name: 'HardlinkDownAndOut',
    expect: 'ok',
    tar: () => [
      file('victim/passwd', 'layer passwd'),
      symlink('breakouts/d1', '../downandout/../../../../../victim'),
      hardlink('breakouts/mypasswd', '/breakouts/d1/passwd'),
    ],
    check: async (t, L) => t.true(await sameInode(L('breakouts/mypasswd'), L('victim/passwd'))),
  },
  {
    from: 'containerd',
    name: 'HardlinkAbsolute',
    expect: 'ok',
    tar: ({ E }) => [file(`${E}/passwd`, 'layer passwd'), symlink('localetc', E), hardlink('localpasswd', '/localetc/passwd')],
    check: async (t, L, { E }) => t.true(await sameInode(L('localpasswd'), L(E, 'passwd'))),
  },
  {
    from: 'containerd',
    name: 'HardlinkRelativeLong',
    expect: 'ok',
    tar: () => [
      file('victim/passwd', 'layer passwd'),
      symlink('localetc', `${'../'.repeat(12)}victim`),
      hardlink('localpasswd', '/localetc/passwd'),
    ],
    check: async (t, L) => t.true(await sameInode(L('localpasswd'), L('victim/passwd'))),
  },
  {
    from: 'containerd',
    name: 'HardlinkRelativeUpAndOut',
    expect: 'ok',
    tar: () => [
      file('victim/passwd', 'layer passwd'),
      symlink('localetc', 'upandout/../../../../../victim'),
      hardlink('localpasswd', '/localetc/passwd'),
    ],
    check: async (t, L) => t.true(await sameInode(L('localpasswd'), L('victim/passwd'))),
  },
  {
    from: 'containerd',
    name: 'HardlinkDirectRelative (clamped there, refused here)',
    expect: 'EINVALIDARCHIVE',
    tar: ({ up }) => [file('victim/passwd'), hardlink('localpasswd', `${up(0)}/passwd`)],
    entry: () => 'localpasswd',
    reason: /climbs above the layer root/,
  },
  {
    from: 'containerd',
    name: 'HardlinkDirectAbsolute',
    expect: 'ok',
    tar: ({ E }) => [file(`${E}/passwd`, 'layer passwd'), hardlink('localpasswd', `${E}/passwd`)],
    check: async (t, L, { E }) => t.true(await sameInode(L('localpasswd'), L(E, 'passwd'))),
  },
  {
    from: 'containerd',
    name: 'SymlinkParentDirectory',
    expect: 'EINVALIDARCHIVE',
    tar: ({ E }) => [symlink('..', `${E}/`), hardlink('localpasswd', `${E}/passwd`)],
    entry: () => '..',
    reason: /climbs above the layer root/,
  },
  {
    from: 'containerd',
    name: 'SymlinkEmptyFilename',
    expect: 'EINVALIDARCHIVE',
    tar: ({ E }) => [symlink('', `${E}/`)],
    entry: () => '',
    reason: /only a directory may name the layer root/,
  },
  {
    from: 'containerd',
    name: 'SymlinkParentRelative',
    expect: 'ok',
    tar: ({ E }) => [
      file(`${E}/passwd`, 'layer passwd'),
      symlink('localetc/sub/..', `${E}/`),
      hardlink('/localetc/localpasswd', `${E}/passwd`),
    ],
    check: async (t, L, { E }) => {
      await isSymlinkTo(t, L('localetc'), `${E}/`);
      t.true(await sameInode(L(E, 'localpasswd'), L(E, 'passwd')));
    },
  },
  {
    from: 'containerd',
    name: 'SymlinkSlashEnded',
    expect: 'ok',
    tar: ({ E }) => [file(`${E}/passwd`, 'layer passwd'), dir('localetc/'), hardlink('/localetc/localpasswd', `${E}/passwd`)],
    check: async (t, L, { E }) => t.true(await sameInode(L('localetc/localpasswd'), L(E, 'passwd'))),
  },
  {
    from: 'containerd',
    name: 'SymlinkOverrideDirectory',
    expect: 'ok',
    tar: ({ E }) => [
      file(`${E}/passwd`, 'layer passwd'),
      dir('localetc/'),
      file('localetc/first', '1'),
      symlink('localetc', E),
      hardlink('localetc/localpasswd', `${E}/passwd`),
    ],
    check: async (t, L, { E }) => {
      await isSymlinkTo(t, L('localetc'), E);
      t.true(await sameInode(L(E, 'localpasswd'), L(E, 'passwd')));
    },
  },
  {
    from: 'containerd',
    name: 'SymlinkOverrideDirectoryRelative',
    expect: 'ok',
    tar: ({ up }) => [
      file('victim/passwd', 'layer passwd'),
      dir('localetc/'),
      file('localetc/first', '1'),
      symlink('localetc', up(0)),
      hardlink('localetc/localpasswd', 'victim/passwd'),
    ],
    check: async (t, L) => t.true(await sameInode(L('victim/localpasswd'), L('victim/passwd'))),
  },
  {
    from: 'containerd',
    name: 'DirectoryOverrideSymlink',
    expect: 'ok',
    tar: ({ E }) => [
      file(`${E}/passwd`, 'layer passwd'),
      symlink('localetc', E),
      dir('localetc/'),
      hardlink('localetc/localpasswd', `${E}/passwd`),
    ],
    check: async (t, L, { E }) => {
      t.true((await fs.lstat(L('localetc'))).isDirectory());
      t.true(await sameInode(L('localetc/localpasswd'), L(E, 'passwd')));
    },
  },
  {
    from: 'containerd',
    name: 'DirectoryOverrideSymlinkAndHardlink',
    expect: 'ok',
    tar: () => [
      file('etc/passwd', 'layer passwd'),
      symlink('localetc', 'etc'),
      hardlink('localetc/localpasswd', 'etc/passwd'),
      dir('localetc/'),
      file('localetc/localpasswd', 'different'),
    ],
    check: async (t, L) => {
      t.is(await readText(L('localetc/localpasswd')), 'different');
      t.false(await sameInode(L('localetc/localpasswd'), L('etc/passwd')));
      t.is(await readText(L('etc/passwd')), 'layer passwd');
      t.true(await sameInode(L('etc/localpasswd'), L('etc/passwd')));
    },
  },
  {
    from: 'containerd',
    name: 'WhiteoutRootParent',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('.wh...')],
    entry: () => '.wh...',
    reason: /invalid whiteout name/,
  },
  {
    from: 'containerd',
    name: 'WhiteoutParent',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('etc/.wh...')],
    entry: () => 'etc/.wh...',
    reason: /invalid whiteout name/,
  },
  {
    from: 'containerd',
    name: 'WhiteoutRoot',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('.wh..')],
    entry: () => '.wh..',
    reason: /invalid whiteout name/,
  },
  {
    from: 'containerd',
    name: 'WhiteoutCurrentDirectory',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('etc/.wh..')],
    entry: () => 'etc/.wh..',
    reason: /invalid whiteout name/,
  },
  {
    from: 'containerd',
    name: 'WhiteoutSymlink',
    expect: 'ok',
    tar: ({ E }) => [file(`${E}/passwd`, 'layer passwd'), symlink('localetc', E), file('.wh.localetc')],
    check: async (t, L, { E }) => {
      t.false(await exists(L('localetc')));
      t.is(await readText(L('.wh.localetc')), '');
      t.is(await readText(L(E, 'passwd')), 'layer passwd');
    },
  },
  {
    from: 'containerd',
    name: 'WhiteoutSymlinkPath',
    expect: 'ok',
    tar: ({ E }) => [file(`${E}/hello`, 'layer hello'), symlink('localetc', E), file('localetc/.wh.hello')],
    check: async (t, L, { E }) => {
      t.false(await exists(L(E, 'hello')));
      t.is(await readText(L(E, '.wh.hello')), '');
    },
  },
  {
    from: 'containerd',
    name: 'WhiteoutDirectoryName (written literally there, refused here)',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('etc/passwd'), file('.wh.etc/somefile')],
    entry: () => '.wh.etc/somefile',
    reason: /used as a directory/,
  },
  {
    from: 'containerd',
    name: 'WhiteoutDeadSymlinkParent',
    expect: 'ok',
    tar: ({ E }) => [symlink('localetc', E), file('localetc/.wh.hello')],
    check: async (t, L, { E }) => t.is(await readText(L(E, '.wh.hello')), ''),
  },
  {
    from: 'containerd',
    name: 'WhiteoutRelativePath',
    expect: 'ok',
    tar: () => [file('etc/passwd', 'layer passwd'), symlink('localetc', '/dne'), file('dne/../.wh.etc')],
    check: async (t, L) => {
      t.false(await exists(L('etc')));
      t.is(await readText(L('.wh.etc')), '');
    },
  },
  {
    from: 'containerd',
    name: 'SymlinkOverridePath',
    expect: 'ok',
    tar: ({ testDir }) => [
      dir('foo/'),
      dir('foo/victim/'),
      file('foo/victim/f', 'f'),
      symlink('foo', testDir),
      file('foo/victim/breakout', '345'),
      dir('foo/'),
      file('foo/victim/breakout', '678'),
    ],
    check: async (t, L, { testDir }) => {
      t.is(await readText(L(testDir, 'victim', 'breakout')), '345');
      t.is(await readText(L('foo/victim/breakout')), '678');
      t.deepEqual(await fs.readdir(L('foo/victim')), ['breakout']);
    },
  },
  {
    from: 'containerd',
    name: 'HardlinkSymlinkBeforeCreateTarget',
    expect: 'ok',
    tar: ({ E }) => [
      symlink('localpasswd', `${E}/passwd`),
      hardlink('localpasswd-dup', 'localpasswd'),
      file(`${E}/passwd`, 'layer passwd'),
    ],
    check: async (t, L, { E }) => {
      await isSymlinkTo(t, L('localpasswd-dup'), `${E}/passwd`);
      t.true(await sameInode(L('localpasswd-dup'), L('localpasswd')));
    },
  },
  {
    from: 'containerd',
    name: 'HardlinkSymlinkRelative',
    expect: 'ok',
    tar: ({ up }) => [symlink('passwdlink', `${up(0)}/passwd`), hardlink('localpasswd', '/passwdlink')],
    check: async (t, L, { up }) => {
      await isSymlinkTo(t, L('localpasswd'), `${up(0)}/passwd`);
      t.true(await sameInode(L('localpasswd'), L('passwdlink')));
    },
  },
  {
    from: 'containerd',
    name: 'HardlinkSymlinkAbsolute',
    expect: 'ok',
    tar: ({ E }) => [symlink('passwdlink', `${E}/passwd`), hardlink('localpasswd', '/passwdlink')],
    check: async (t, L, { E }) => {
      await isSymlinkTo(t, L('localpasswd'), `${E}/passwd`);
      t.true(await sameInode(L('localpasswd'), L('passwdlink')));
    },
  },
  {
    from: 'containerd',
    name: 'HardlinkSymlinkChmod',
    expect: 'ok',
    tar: ({ E }) => [
      symlink(`${E}/also-exists-outside-root`, `${E}/perm400`),
      { ...hardlink('sketchylink', `${E}/also-exists-outside-root`), mode: 0o777 },
    ],
    check: async (t, L, { E }) => {
      await isSymlinkTo(t, L(E, 'also-exists-outside-root'), `${E}/perm400`);
      t.true(await sameInode(L('sketchylink'), L(E, 'also-exists-outside-root')));
    },
  },
  {
    from: 'containerd',
    name: 'DeviceRange (major above uint32)',
    expect: 'EINVALIDARCHIVE',
    tar: () => [{ name: 'dev/big', type: 'character-device', raw: { devmajor: 2 ** 32 } }],
    entry: () => 'dev/big',
    reason: /out of range/,
  },
  {
    from: 'containerd',
    name: 'DeviceRange (negative minor)',
    expect: 'EINVALIDARCHIVE',
    tar: () => [{ name: 'dev/neg', type: 'block-device', raw: { devminor: -2 } }],
    entry: () => 'dev/neg',
    reason: /out of range/,
  },

  // moby pkg/archive (moby/go-archive)
  {
    from: 'moby',
    name: 'InvalidFilenames dotdot',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('../victim/dotdot', 'x')],
    entry: () => '../victim/dotdot',
  },
  {
    from: 'moby',
    name: 'InvalidFilenames slash-dotdot',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('/../victim/slash-dotdot', 'x')],
    entry: () => '/../victim/slash-dotdot',
  },
  { from: 'moby', name: 'ParentTraversalContained ..', expect: 'EINVALIDARCHIVE', tar: () => [file('..', 'x')], entry: () => '..' },
  {
    from: 'moby',
    name: 'ParentTraversalContained ../pwned',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('../pwned', 'x')],
    entry: () => '../pwned',
  },
  {
    from: 'moby',
    name: 'ParentTraversalContained ../../pwned',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('../../pwned', 'x')],
    entry: () => '../../pwned',
  },
  {
    from: 'moby',
    name: 'SiblingPrefixContained',
    expect: 'EINVALIDARCHIVE',
    tar: () => [hardlink('grab', '../dest-evil/secret')],
    entry: () => 'grab',
  },
  {
    from: 'moby',
    name: 'HardlinkToSymlink',
    expect: 'ok',
    tar: () => [symlink('symlink1', 'regfile'), hardlink('symlink2', 'symlink1'), file('regfile', 'data')],
    check: async (t, L) => {
      await isSymlinkTo(t, L('symlink2'), 'regfile');
      t.true(await sameInode(L('symlink1'), L('symlink2')));
      t.is(await readText(L('regfile')), 'data');
    },
  },
  {
    from: 'moby',
    name: 'InvalidHardlink dotdot',
    expect: 'EINVALIDARCHIVE',
    tar: ({ up }) => [hardlink('dotdot', `${up(0)}/hello`)],
    entry: () => 'dotdot',
  },
  {
    from: 'moby',
    name: 'InvalidHardlink slash-dotdot',
    expect: 'EINVALIDARCHIVE',
    tar: () => [hardlink('slash-dotdot', '/../victim/hello')],
    entry: () => 'slash-dotdot',
  },
  {
    from: 'moby',
    name: 'InvalidHardlink loophole then write',
    expect: 'EINVALIDARCHIVE',
    tar: ({ up }) => [hardlink('loophole-victim', up(0)), file('loophole-victim/file', 'x')],
    entry: () => 'loophole-victim',
  },
  {
    from: 'moby',
    name: 'InvalidHardlink loophole then symlink',
    expect: 'EINVALIDARCHIVE',
    tar: ({ up }) => [hardlink('loophole-victim', up(0)), symlink('loophole-victim/symlink', 'hello')],
    entry: () => 'loophole-victim',
  },
  {
    from: 'moby',
    name: 'InvalidHardlink loophole then hardlink',
    expect: 'EINVALIDARCHIVE',
    tar: ({ up }) => [hardlink('loophole-victim', up(0)), hardlink('loophole-victim/hardlink', 'loophole-victim/hello')],
    entry: () => 'loophole-victim',
  },
  {
    from: 'moby',
    name: 'InvalidHardlink loophole then regular file',
    expect: 'EINVALIDARCHIVE',
    tar: ({ up }) => [hardlink('loophole-victim', up(0)), file('loophole-victim', 'replaced')],
    entry: () => 'loophole-victim',
  },
  {
    from: 'moby',
    name: 'InvalidSymlink dotdot (stored as data)',
    expect: 'ok',
    tar: ({ up }) => [symlink('dotdot', `${up(0)}/hello`)],
    check: async (t, L, { up }) => isSymlinkTo(t, L('dotdot'), `${up(0)}/hello`),
  },
  {
    from: 'moby',
    name: 'InvalidSymlink slash-dotdot (stored as data)',
    expect: 'ok',
    tar: () => [symlink('slash-dotdot', '/../victim/hello')],
    check: async (t, L) => isSymlinkTo(t, L('slash-dotdot'), '/../victim/hello'),
  },
  {
    from: 'moby',
    name: 'InvalidSymlink loophole then file',
    expect: 'ok',
    tar: ({ up }) => [symlink('loophole-victim', up(0)), file('loophole-victim/file', 'x')],
    check: async (t, L) => t.is(await readText(L('victim/file')), 'x'),
  },
  {
    from: 'moby',
    name: 'InvalidSymlink loophole then symlink',
    expect: 'ok',
    tar: ({ up }) => [symlink('loophole-victim', up(0)), symlink('loophole-victim/symlink', 'hello')],
    check: async (t, L) => isSymlinkTo(t, L('victim/symlink'), 'hello'),
  },
  {
    from: 'moby',
    name: 'InvalidSymlink loophole then hardlink',
    expect: 'EINVALIDARCHIVE',
    tar: ({ up }) => [symlink('loophole-victim', up(0)), hardlink('loophole-victim/hardlink', 'loophole-victim/hello')],
    entry: () => 'loophole-victim/hardlink',
    reason: /not in this layer/,
  },
  {
    from: 'moby',
    name: 'InvalidSymlink loophole then regular file',
    expect: 'ok',
    tar: ({ up }) => [symlink('loophole-victim', up(0)), file('loophole-victim', 'replaced')],
    check: async (t, L) => t.is(await readText(L('loophole-victim')), 'replaced'),
  },
  {
    from: 'moby',
    name: 'InvalidSymlink nested loophole',
    expect: 'ok',
    tar: ({ up }) => [dir('dir/'), symlink('dir/loophole', up(1)), file('dir/loophole/newdir/newfile', 'x')],
    check: async (t, L) => t.is(await readText(L('victim/newdir/newfile')), 'x'),
  },
  {
    from: 'moby',
    name: 'SymlinkBreakout (two-hop chain)',
    expect: 'ok',
    tar: ({ up }) => [
      dir('inner/'),
      symlink('inner/go_up', '..'),
      symlink('inner/go_up/escape', up(0)),
      file('inner/go_up/escape/newfile', 'x'),
    ],
    check: async (t, L, { up }) => {
      await isSymlinkTo(t, L('escape'), up(0));
      t.is(await readText(L('victim/newfile')), 'x');
    },
  },
  {
    from: 'moby',
    name: 'UntarThroughAbsoluteSymlink (moby#53258)',
    expect: 'ok',
    tar: () => [dir('run/existing/'), symlink('var/run', '/run'), file('var/run/existing/non-existing/file', 'x')],
    check: async (t, L) => {
      t.is(await readText(L('run/existing/non-existing/file')), 'x');
      await isSymlinkTo(t, L('var/run'), '/run');
    },
  },
  {
    from: 'moby',
    name: 'RelativeEscapeBeforeAbsoluteSymlink (refused there, contained here)',
    expect: 'ok',
    tar: () => [symlink('escape', '../../../..'), symlink('absolute', '/target'), file('escape/absolute/file', 'x')],
    check: async (t, L) => t.is(await readText(L('target/file')), 'x'),
  },
  {
    from: 'moby',
    name: 'HardlinkSourceThroughAbsoluteSymlink',
    expect: 'ok',
    tar: () => [symlink('var/run', '/run'), file('var/run/source', 'x'), hardlink('var/run/link', 'var/run/source')],
    check: async (t, L) => {
      t.true(await sameInode(L('run/source'), L('run/link')));
      t.is((await fs.lstat(L('run/link'))).nlink, 2);
    },
  },
  {
    from: 'moby',
    name: 'OverlayUntarInvalidWhiteoutNames .wh.',
    expect: 'EINVALIDARCHIVE',
    format: 'overlay',
    tar: () => [file('.wh.')],
    entry: () => '.wh.',
  },
  {
    from: 'moby',
    name: 'OverlayUntarInvalidWhiteoutNames .wh..',
    expect: 'EINVALIDARCHIVE',
    format: 'overlay',
    tar: () => [file('.wh..')],
    entry: () => '.wh..',
  },
  {
    from: 'moby',
    name: 'OverlayUntarInvalidWhiteoutNames .wh...',
    expect: 'EINVALIDARCHIVE',
    format: 'overlay',
    tar: () => [file('.wh...')],
    entry: () => '.wh...',
  },
  {
    from: 'moby',
    name: 'ChrootApplyDotDotFile',
    expect: 'ok',
    tar: () => [file('..gitme', 'x')],
    check: async (t, L) => t.is(await readText(L('..gitme')), 'x'),
  },

  // strata's own
  {
    from: 'strata',
    name: 'write through a symlink made by an earlier entry, relative climb',
    expect: 'ok',
    tar: ({ up }) => [symlink('out', up(0)), file('out/hello', 'mine')],
    check: async (t, L) => t.is(await readText(L('victim/hello')), 'mine'),
  },
  {
    from: 'strata',
    name: 'directory made through a symlink',
    expect: 'ok',
    tar: ({ E }) => [symlink('out', E), dir('out/made/'), file('out/made/f', 'x')],
    check: async (t, L, { E }) => t.is(await readText(L(E, 'made/f')), 'x'),
  },
  {
    from: 'strata',
    name: 'hardlink through a symlink to outside',
    expect: 'EINVALIDARCHIVE',
    tar: ({ E }) => [symlink('out', E), hardlink('grab', 'out/passwd')],
    entry: () => 'grab',
    reason: /not in this layer/,
  },
  {
    from: 'strata',
    name: 'hardlink to an absolute host path not in the layer',
    expect: 'EINVALIDARCHIVE',
    tar: ({ E }) => [hardlink('grab', `${E}/passwd`)],
    entry: () => 'grab',
    reason: /not in this layer/,
  },
  {
    from: 'strata',
    name: 'hardlink to a directory',
    expect: 'EINVALIDARCHIVE',
    tar: () => [dir('d/'), hardlink('h', 'd')],
    entry: () => 'h',
    reason: /is a directory/,
  },
  {
    from: 'strata',
    name: 'hardlink to a whiteout',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('.wh.x'), hardlink('h', '.wh.x')],
    entry: () => 'h',
    reason: /whiteout/,
  },
  {
    from: 'strata',
    name: 'whiteout name climbing out',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('../.wh.victim')],
    entry: () => '../.wh.victim',
  },
  {
    from: 'strata',
    name: 'whiteout directory climbing out',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('.wh.x/../../victim/hello')],
    entry: () => '.wh.x/../../victim/hello',
  },
  {
    from: 'strata',
    name: 'whiteout through a symlink with a relative climb',
    expect: 'ok',
    tar: ({ up }) => [symlink('out', up(0)), file('out/.wh.hello')],
    check: async (t, L) => t.is(await readText(L('victim/.wh.hello')), ''),
  },
  {
    from: 'strata',
    name: 'whiteout by absolute host path',
    expect: 'ok',
    tar: ({ E }) => [file(`${E}/.wh.hello`)],
    check: async (t, L, { E }) => t.is(await readText(L(E, '.wh.hello')), ''),
  },
  {
    from: 'strata',
    name: 'opaque marker through a symlink',
    expect: 'ok',
    tar: ({ E }) => [symlink('out', E), file('out/.wh..wh..opq')],
    check: async (t, L, { E }) => t.is(await readText(L(E, '.wh..wh..opq')), ''),
  },
  {
    from: 'strata',
    name: 'symlink leading through a whiteout name',
    expect: 'EINVALIDARCHIVE',
    tar: () => [symlink('l', '.wh.x'), file('l/y')],
    entry: () => 'l/y',
    reason: /whiteout name/,
  },
  {
    from: 'strata',
    name: 'parent deleted by an earlier whiteout of the same layer',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('.wh.etc'), file('etc/passwd')],
    entry: () => 'etc/passwd',
    reason: /whited out/,
  },
  {
    from: 'strata',
    name: 'parent deleted by an earlier whiteout of the same layer',
    expect: 'EINVALIDARCHIVE',
    format: 'overlay',
    tar: () => [file('.wh.etc'), file('etc/passwd')],
    entry: () => 'etc/passwd',
    reason: /not a directory/,
  },
  {
    from: 'strata',
    name: 'symlink loop',
    expect: 'EINVALIDARCHIVE',
    tar: () => [symlink('loop', 'loop'), file('loop/x')],
    entry: () => 'loop/x',
    reason: /too many levels of symbolic links/,
  },
  {
    from: 'strata',
    name: 'chain of 41 symlinks',
    expect: 'EINVALIDARCHIVE',
    tar: () => [dir('d/'), ...chain(41), file('l0/x')],
    entry: () => 'l0/x',
    reason: /too many levels of symbolic links/,
  },
  {
    from: 'strata',
    name: 'chain of 40 symlinks',
    expect: 'ok',
    tar: () => [dir('d/'), ...chain(40), file('l0/x', 'end')],
    check: async (t, L) => t.is(await readText(L('d/x')), 'end'),
  },
  {
    from: 'strata',
    name: 'parent is a regular file',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('f', 'x'), file('f/x')],
    entry: () => 'f/x',
    reason: /not a directory/,
  },
  {
    from: 'strata',
    name: 'NUL byte in a name',
    expect: 'EINVALIDARCHIVE',
    tar: () => [{ name: 'etc/passwd', content: 'x', pax: { path: 'etc/pass\0wd' } }],
    reason: /NUL byte/,
  },
  {
    from: 'strata',
    name: 'NUL byte in a hardlink target',
    expect: 'EINVALIDARCHIVE',
    tar: () => [file('a', 'x'), { ...hardlink('b', 'a'), pax: { linkpath: 'a\0/../../x' } }],
    entry: () => 'b',
    reason: /NUL byte/,
  },
  {
    from: 'strata',
    name: 'unknown entry type',
    expect: 'EINVALIDARCHIVE',
    tar: () => [{ name: 'sparse', content: 'x', raw: { typeflag: 'S' } }],
    entry: () => 'sparse',
    reason: /unsupported entry type/,
  },
  {
    from: 'strata',
    name: 'the layer root as a symlink',
    expect: 'EINVALIDARCHIVE',
    tar: ({ E }) => [symlink('a/..', E)],
    entry: () => 'a/..',
    reason: /only a directory may name the layer root/,
  },
  {
    from: 'strata',
    name: 'uid beyond 32 bits',
    expect: 'EINVALIDARCHIVE',
    tar: () => [{ name: 'f', content: 'x', raw: { uid: 2 ** 33 } }],
    entry: () => 'f',
    reason: /uid .* out of range/,
  },
];

/** l0 -> l1 -> … -> l(n-1) -> d: following l0 takes n hops. */
function chain(n: number): TarEntry[] {
  return Array.from({ length: n }, (_, i) => symlink(`l${i}`, i === n - 1 ? 'd' : `l${i + 1}`));
}

for (const row of rows) testInFormat(row.format ?? 'oci')(breakout, row);
