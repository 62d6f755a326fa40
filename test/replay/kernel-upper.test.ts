/**
 * Uppers only a real kernel writes, committed: whiteouts that overlayfs makes as one
 * shared 0/0 device inode (hard links of work/'s #whiteout), and hardlinks that a
 * copy-up broke (overlayfs without index=on). The layer must hold whiteouts as
 * separate `.wh.` files, never as hardlinks of each other, and hardlinks only to
 * names inside the layer. Root only.
 */
import type { ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { strata } from '../helpers/cli.js';
import { commitTwice } from '../helpers/replay.js';
import { savedImage } from '../helpers/saved-image.js';
import { entryLine } from '../helpers/layer-listing.js';
import { viewManifest } from '../helpers/fs-manifest.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { CreateDir, CreateFile, Link, Remove, RemoveAll } from '../helpers/fs-ops.js';
import { kernelOverlaySkipReason } from '../helpers/kernel-overlay.js';
import { testUnless } from '../helpers/skip.js';

const kernel = testUnless(await kernelOverlaySkipReason());

/** The saved image loaded into a fresh store: a new container's tree, as fs-manifest prints it. */
async function loadedTree(t: ExecutionContext, saveFrom: string, scratch: string): Promise<string[]> {
  const file = path.join(scratch, 'round-trip.tar');
  t.is((await strata(saveFrom, ['save', '-o', file, 'diff:b'])).code, 0);
  const fresh = await tmpStore(t, { whiteoutFormat: 'overlay' });
  const loaded = await strata(fresh.store.root, ['load', '-q', '-i', file]);
  t.is(loaded.code, 0, loaded.stderr);
  return viewManifest(await containerView(fresh.store, await createContainer(fresh.store, 'diff:b')));
}

kernel('whiteouts the kernel made as one shared inode commit as separate .wh. files, none a hardlink', async (t) => {
  const a = [
    CreateFile('/a', 'a', 0o644),
    CreateDir('/d', 0o755),
    CreateFile('/d/b', 'b', 0o644),
    CreateDir('/e', 0o755),
    CreateFile('/e/c', 'c', 0o644),
    CreateDir('/e/sub', 0o755),
  ];
  const b = [Remove('/a'), Remove('/d/b'), Remove('/e/c'), RemoveAll('/e/sub')];
  const { store, scratch, upper, commit } = await commitTwice(t, a, b, 'kernel', 'overlay');
  t.is(commit.code, 0, commit.stderr);

  // The premise: the kernel's four whiteouts are names of one inode.
  const whiteouts = await Promise.all(['a', 'd/b', 'e/c', 'e/sub'].map((p) => fs.lstat(path.join(upper, p))));
  t.true(
    whiteouts.every((st) => st.isCharacterDevice() && st.rdev === 0 && st.ino === whiteouts[0]!.ino && st.nlink >= 4),
    'overlayfs shares one whiteout inode',
  );

  const layer = (await savedImage(store, 'diff:b', scratch)).layers.at(-1)!;
  t.deepEqual(layer.map(entryLine), [
    '.wh.a file 0600 0:0 ""',
    'd/ dir 0755 0:0',
    'd/.wh.b file 0600 0:0 ""',
    'e/ dir 0755 0:0',
    'e/.wh.c file 0600 0:0 ""',
    'e/.wh.sub file 0600 0:0 ""',
  ]);
  t.deepEqual(await loadedTree(t, store.root, scratch), ['/ dir 0755 0:0', '/d dir 0755 0:0', '/e dir 0755 0:0']);
});

kernel('a hardlink the kernel broke by copy-up is committed as the copy alone; a link made after it links inside the layer', async (t) => {
  const a = [
    CreateDir('/etc', 0o755),
    CreateFile('/etc/hosts', '127.0.0.1 localhost', 0o644),
    Link('/etc/hosts', '/etc/hosts.allow'),
    Link('/etc/hosts', '/etc/hosts.deny'),
  ];
  const b = [CreateFile('/etc/hosts', '127.0.0.1 localhost.localdomain', 0o644), Link('/etc/hosts', '/etc/hosts.new')];
  const { store, scratch, upper, commit } = await commitTwice(t, a, b, 'kernel', 'overlay');
  t.is(commit.code, 0, commit.stderr);

  // The premise: the upper's copy has left the lower inode (two names in the upper, not four).
  t.is((await fs.lstat(path.join(upper, 'etc/hosts'))).nlink, 2, 'copy-up gave /etc/hosts an inode of its own');

  const layer = (await savedImage(store, 'diff:b', scratch)).layers.at(-1)!;
  t.deepEqual(layer.map(entryLine), [
    'etc/ dir 0755 0:0',
    'etc/hosts file 0644 0:0 "127.0.0.1 localhost.localdomain"',
    'etc/hosts.new link 0644 0:0 -> etc/hosts',
  ]);
  const hosts = 'size=19 sha256=141f2ae6726c9419';
  const rewritten = 'size=31 sha256=235c287f42e0327f';
  t.deepEqual(await loadedTree(t, store.root, scratch), [
    '/ dir 0755 0:0',
    '/etc dir 0755 0:0',
    `/etc/hosts file 0644 0:0 ${rewritten} links=/etc/hosts.new`,
    `/etc/hosts.allow file 0644 0:0 ${hosts} links=/etc/hosts.deny`,
    `/etc/hosts.deny file 0644 0:0 ${hosts} links=/etc/hosts.allow`,
    `/etc/hosts.new file 0644 0:0 ${rewritten} links=/etc/hosts`,
  ]);
});
