/**
 * Commit of an upper dir written by the kernel's overlayfs (as root): the encoding
 * the kernel makes — whiteouts that share one inode, opaque xattrs, its own
 * trusted.overlay.* bookkeeping, hardlinks broken by copy-up — gives the same layer
 * as the same changes made through strata's resolver.
 */
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { testUnless } from '../helpers/skip.js';
import { kernelOverlaySkipReason, mountOverlay } from '../helpers/kernel-overlay.js';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { layerLines } from '../helpers/layer-listing.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { commitContainer } from '../../src/transfer/commit.js';
import { containerDirs } from '../../src/container/record.js';
import { findImage } from '../../src/image/lookup.js';
import type { Resolver } from '../../src/resolver/resolver.js';
import { xattr } from '../../src/xattr.js';

const kernelMissing = await kernelOverlaySkipReason();

const BASE: LayerInput[] = [
  [
    { path: 'bin/' },
    { path: 'bin/echo', content: 'echo\n', mode: 0o755 },
    { path: 'etc/' },
    { path: 'etc/os-release', content: 'ID=test\n' },
    { path: 'etc/shadow-like', content: 'root:*\n', mode: 0o600 },
    { path: 'etc/hostname', content: 'box\n' },
    { path: 'opt/' },
    { path: 'opt/data/' },
    { path: 'opt/data/a', content: 'a' },
    { path: 'keep/' },
    { path: 'keep/x', content: 'x' },
    { path: 'keep/x2', type: 'hardlink', linkname: 'keep/x' },
  ],
];

/** The changes of the measured Docker case, as file-system calls on a root directory. */
interface Ops {
  rm(p: string, recursive?: boolean): Promise<void>;
  mkdir(p: string): Promise<void>;
  write(p: string, data: string): Promise<void>;
  append(p: string, data: string): Promise<void>;
  link(from: string, to: string): Promise<void>;
}

async function applyChanges(ops: Ops): Promise<void> {
  for (const p of ['/etc/os-release', '/etc/shadow-like', '/bin/echo']) await ops.rm(p);
  await ops.rm('/opt/data', true);
  await ops.mkdir('/opt/data');
  await ops.write('/opt/data/n', 'x\n');
  await ops.write('/newf', 'hi\n');
  await ops.link('/newf', '/newl');
  await ops.append('/etc/hostname', 'more\n');
  await ops.append('/keep/x', 'y');
}

function hostOps(root: string): Ops {
  const at = (p: string) => path.join(root, p);
  return {
    rm: (p, recursive = false) => fs.rm(at(p), { recursive }),
    mkdir: (p) => fs.mkdir(at(p), { mode: 0o755 }),
    write: (p, data) => fs.writeFile(at(p), data, { mode: 0o644 }),
    append: (p, data) => fs.appendFile(at(p), data),
    link: (from, to) => fs.link(at(from), at(to)),
  };
}

function viewOps(view: Resolver): Ops {
  return {
    rm: (p, recursive = false) => view.rm(p, { recursive }),
    mkdir: (p) => view.mkdir(p, { mode: 0o755 }).then(() => {}),
    write: (p, data) => view.writeFile(p, data, { mode: 0o644 }),
    append: (p, data) => view.appendFile(p, data),
    link: (from, to) => view.link(from, to),
  };
}

async function committedThroughKernel(t: ExecutionContext) {
  const fixture = await containerFromLayers(t, 'overlay', BASE);
  const { store, dir, record } = fixture;
  const dirs = containerDirs(store, record.id);
  const target = path.join(dir, 'merged');
  await fs.mkdir(target);
  const lowerDirs = [...record.layers].reverse().map((chainId) => store.paths.layerDiff(chainId));
  const mount = await mountOverlay({ lowerDirs, upperDir: dirs.upper, workDir: dirs.work, target });
  try {
    await applyChanges(hostOps(target));
  } finally {
    await mount.unmount();
  }
  return { ...fixture, upper: dirs.upper };
}

testUnless(kernelMissing)('an upper written by a kernel mount commits to the entries Docker writes, without its bookkeeping', async (t) => {
  const { store, record, upper } = await committedThroughKernel(t);
  // What the kernel left: one shared whiteout inode, an opaque xattr, a copy-up with nlink 1.
  const whiteouts = ['etc/os-release', 'etc/shadow-like', 'bin/echo'].map((p) => fsSync.lstatSync(path.join(upper, p)));
  t.true(whiteouts.every((st) => st.isCharacterDevice() && st.rdev === 0));
  t.is(new Set(whiteouts.map((st) => st.ino)).size, 1, 'the kernel made the three whiteouts one inode');
  t.is(
    xattr()
      .getAttributeSync(path.join(upper, 'opt', 'data'), 'trusted.overlay.opaque')
      ?.toString(),
    'y',
  );
  t.is(fsSync.lstatSync(path.join(upper, 'keep', 'x')).nlink, 1);

  await commitContainer(store, record, { reference: 'k:1' });
  t.deepEqual(await layerLines(store, 'k:1'), [
    'bin/ dir 0755 0:0',
    'bin/.wh.echo file 0600 0:0 ""',
    'etc/ dir 0755 0:0',
    'etc/hostname file 0644 0:0 "box\\nmore\\n"',
    'etc/.wh.os-release file 0600 0:0 ""',
    'etc/.wh.shadow-like file 0600 0:0 ""',
    'keep/ dir 0755 0:0',
    'keep/x file 0644 0:0 "xy"',
    'newf file 0644 0:0 "hi\\n"',
    'newl link 0644 0:0 -> newf',
    'opt/ dir 0755 0:0',
    'opt/data/ dir 0755 0:0',
    'opt/data/.wh..wh..opq file 0755 0:0 ""',
    'opt/data/n file 0644 0:0 "x\\n"',
  ]);
});

testUnless(kernelMissing)('the kernel and the resolver making the same changes commit to the same layer, byte for byte', async (t) => {
  const kernel = await committedThroughKernel(t);
  const resolver = await containerFromLayers(t, 'overlay', BASE);
  await applyChanges(viewOps(resolver.view));
  // Epoch 0: every mtime becomes 0, so only what the two encodings say can differ.
  await commitContainer(kernel.store, kernel.record, { reference: 'k:1', sourceDateEpoch: 0 });
  await commitContainer(resolver.store, resolver.record, { reference: 'k:1', sourceDateEpoch: 0 });
  const top = async (fixture: { store: typeof kernel.store }) => (await findImage(fixture.store, 'k:1')).layers.at(-1)!.diffId;
  t.is(await top(kernel), await top(resolver));
  t.is((await findImage(kernel.store, 'k:1')).id, (await findImage(resolver.store, 'k:1')).id);
});
