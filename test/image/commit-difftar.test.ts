/**
 * containerd's TestDiffTar cases (pkg/archive/tar_test.go) replayed through commit, with
 * the exact entry list of each committed layer, in both whiteout encodings.
 *
 * Documented differences: strata, like Docker, emits every directory of the upper dir
 * (copied-up parents included) where containerd emits changed entries and their
 * parents — here the lists agree, since every changed entry's parent is in the upper;
 * and in a group of hardlinks the first name in path order carries the data where
 * containerd gives it to the new name (HardlinkParentInclusion): both say the same links.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { overlayFormatSkipReason } from '../helpers/both-formats.js';
import { testUnless } from '../helpers/skip.js';
import { layerLines } from '../helpers/layer-listing.js';
import type { LayerEntry } from '../helpers/image-builder.js';
import { commitContainer } from '../../src/transfer/commit.js';
import { containerDirs } from '../../src/container/record.js';
import type { Resolver } from '../../src/resolver/resolver.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';

interface DiffTarCase {
  base: LayerEntry[];
  change: (view: Resolver, upper: string) => Promise<void>;
  entries: string[];
}

const f = (p: string, content: string, mode = 0o644): LayerEntry => ({ path: p, content, mode });
const d = (p: string, mode = 0o755): LayerEntry => ({ path: `${p}/`, mode });

const CASES: Record<string, DiffTarCase> = {
  EmptyDiff: { base: [d('etc')], change: async () => {}, entries: [] },
  ParentInclusion: {
    base: [d('d1'), d('d2', 0o770)],
    change: async (v) => {
      await v.mkdir('/d1/d', { mode: 0o700 });
      await v.writeFile('/d2/f', 'ok', { mode: 0o644 });
    },
    entries: ['d1/ dir 0755 0:0', 'd1/d/ dir 0700 0:0', 'd2/ dir 0770 0:0', 'd2/f file 0644 0:0 "ok"'],
  },
  HardlinkParentInclusion: {
    base: [
      d('d1'),
      f('d1/f1', 'link me'),
      d('d2'),
      f('d2/f1', 'link me'),
      d('d3'),
      d('d4'),
      f('d4/f1', 'link me'),
      d('d5'),
      f('d5/f1', 'link me'),
      d('d6'),
      { path: 'd6/l1', type: 'hardlink', linkname: 'd1/f1' },
      { path: 'd6/l2', type: 'hardlink', linkname: 'd5/f1' },
    ],
    change: async (v) => {
      await v.link('/d1/f1', '/d2/l1');
      await v.link('/d4/f1', '/d3/l1');
      await v.rm('/d6/l1');
      await v.rm('/d6/l2');
    },
    entries: [
      'd1/ dir 0755 0:0',
      'd1/f1 file 0644 0:0 "link me"',
      'd2/ dir 0755 0:0',
      'd2/l1 link 0644 0:0 -> d1/f1',
      'd3/ dir 0755 0:0',
      'd3/l1 file 0644 0:0 "link me"',
      'd4/ dir 0755 0:0',
      'd4/f1 link 0644 0:0 -> d3/l1',
      'd6/ dir 0755 0:0',
      'd6/.wh.l1 file 0600 0:0 ""',
      'd6/.wh.l2 file 0600 0:0 ""',
    ],
  },
  UpdateDirectoryPermission: {
    base: [d('d1', 0o700), d('d2', 0o700)],
    change: async (v) => {
      await v.chmod('/d1', 0o777);
      await v.mkdir('/d1/d', { mode: 0o700 });
      await v.writeFile('/d2/f', 'ok', { mode: 0o644 });
    },
    entries: ['d1/ dir 0777 0:0', 'd1/d/ dir 0700 0:0', 'd2/ dir 0700 0:0', 'd2/f file 0644 0:0 "ok"'],
  },
  WhiteoutIncludesParents: {
    base: [
      d('d1'),
      f('d1/f1', '1'),
      d('d2'),
      f('d2/f1', '1'),
      d('d3'),
      f('d3/f1', '1'),
      d('d4'),
      f('d4/f1', '1'),
      d('d5'),
      f('d5/f1', '1'),
    ],
    change: async (v) => {
      await v.rm('/d1/f1');
      await v.rm('/d2/f1');
      await v.writeFile('/d2/f2', '2');
      await v.chmod('/d2/f2', 0o777); // CreateFile chmods after the write, past the umask
      await v.rm('/d3/f1');
      await v.writeFile('/d3/f2', '2', { mode: 0o644 });
      await v.writeFile('/d4/f0', '0', { mode: 0o644 });
      await v.rm('/d4/f1');
      await v.rm('/d5', { recursive: true });
    },
    entries: [
      'd1/ dir 0755 0:0',
      'd1/.wh.f1 file 0600 0:0 ""',
      'd2/ dir 0755 0:0',
      'd2/.wh.f1 file 0600 0:0 ""',
      'd2/f2 file 0777 0:0 "2"',
      'd3/ dir 0755 0:0',
      'd3/.wh.f1 file 0600 0:0 ""',
      'd3/f2 file 0644 0:0 "2"',
      'd4/ dir 0755 0:0',
      'd4/f0 file 0644 0:0 "0"',
      'd4/.wh.f1 file 0600 0:0 ""',
      '.wh.d5 file 0600 0:0 ""',
    ],
  },
  WhiteoutParentRemoval: {
    base: [d('d1'), f('d1/f1', '1'), d('d2'), f('d2/f1', '1')],
    change: async (v) => {
      await v.rm('/d1', { recursive: true });
      await v.rm('/d2', { recursive: true });
      await v.mkdir('/d3', { mode: 0o755 });
    },
    entries: ['.wh.d1 file 0600 0:0 ""', '.wh.d2 file 0600 0:0 ""', 'd3/ dir 0755 0:0'],
  },
  IgnoreSockets: {
    base: [d('etc')],
    change: async (v, upper) => {
      await v.writeFile('/f2', '2', { mode: 0o644 });
      execFileSync('python3', ['-c', 'import socket; socket.socket(socket.AF_UNIX).bind("s0")'], { cwd: upper });
      await v.writeFile('/f3', '3', { mode: 0o644 });
    },
    entries: ['f2 file 0644 0:0 "2"', 'f3 file 0644 0:0 "3"'],
  },
};

const diffTar = test.macro({
  async exec(t, name: string, format: WhiteoutFormat) {
    const c = CASES[name]!;
    const { store, record, view } = await containerFromLayers(t, format, [c.base]);
    await c.change(view, containerDirs(store, record.id).upper);
    const image = await commitContainer(store, record, { reference: 'diff:1', onSkipped: () => {} });
    t.is(image.emptyLayer, c.entries.length === 0);
    if (c.entries.length > 0) t.deepEqual(await layerLines(store, 'diff:1'), c.entries);
  },
  title: (_title, name: string, format: WhiteoutFormat) => `containerd TestDiffTar ${name} (${format})`,
});

for (const name of Object.keys(CASES)) {
  test(diffTar, name, 'oci');
  testUnless(overlayFormatSkipReason)(diffTar, name, 'overlay');
}
