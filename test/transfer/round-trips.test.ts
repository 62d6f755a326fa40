/**
 * What leaves strata as a save (both forms) comes back whole through the tools that
 * read it — skopeo's docker-archive and oci-archive transports, umoci after the tar
 * is extracted, and strata load — and Docker's and skopeo's own tarballs (the
 * conformance images) survive load → save → load with every digest.
 */
import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadImages } from '../../src/transfer/load.js';
import { saveImagesToFile } from '../../src/transfer/save.js';
import { findImage } from '../../src/image/lookup.js';
import { readImageRecord } from '../../src/image/record.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { exportContainerToFile } from '../../src/container/export.js';
import { formatTreeTsv, listTree } from '../../src/resolver/tree.js';
import { commitContainer } from '../../src/transfer/commit.js';
import type { Store } from '../../src/store/root.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { strata } from '../helpers/cli.js';
import { testUnless, firstReason } from '../helpers/skip.js';
import { commandSkipReason, gnuTarSkipReason, zstdSkipReason } from '../helpers/tools.js';
import { conformanceTarballs, sharedSkipReason } from '../helpers/shared.js';
import { buildImageWithInfo, type Compression, type LayerEntry } from '../helpers/image-builder.js';

const run = promisify(execFile);
// Probed before any test is declared: ava takes every declaration in the file's first turn.
const noSkopeo = await commandSkipReason('skopeo', ['--version'], 'skopeo is not installed');
const noUmoci = await commandSkipReason('umoci', ['--version'], 'umoci is not installed');
const noZstd = await zstdSkipReason();
const noGnuTar = await gnuTarSkipReason();
const noShared = sharedSkipReason();
const asRoot = process.getuid?.() === 0;

/** Every kind of entry a layer carries, across three layers: whiteouts, an opaque dir, links, owners, modes. */
const LAYERS: LayerEntry[][] = [
  [
    { path: 'etc/', type: 'dir' },
    { path: 'etc/os-release', content: 'ID=strata\n' },
    { path: 'etc/gone', content: 'deleted above\n' },
    { path: 'opt/', type: 'dir' },
    { path: 'opt/data/', type: 'dir' },
    { path: 'opt/data/old', content: 'hidden by the opaque dir\n' },
    { path: 'bin/', type: 'dir' },
    { path: 'bin/tool', size: 300_000, seed: 3, mode: 0o755 },
    { path: 'bin/alias', type: 'symlink', linkname: 'tool' },
  ],
  [
    { path: 'etc/', type: 'dir' },
    { path: 'etc/.wh.gone' },
    { path: 'opt/', type: 'dir' },
    { path: 'opt/data/', type: 'dir', mode: 0o750 },
    { path: 'opt/data/.wh..wh..opq' },
    { path: 'opt/data/new', content: 'n\n' },
    { path: 'home/', type: 'dir' },
    { path: 'home/user/', type: 'dir', mode: 0o700, uid: 1000, gid: 1000 },
    { path: 'home/user/notes', content: 'mine\n', mode: 0o600, uid: 1000, gid: 1000 },
  ],
  [
    { path: 'app/', type: 'dir' },
    { path: 'app/main', content: 'main\n', mode: 0o4755 },
    { path: 'app/same', type: 'hardlink', linkname: 'app/main' },
  ],
];

const FORMS = [
  { form: 'default', uncompressed: false },
  { form: '--uncompressed', uncompressed: true },
] as const;

async function loadedImage(t: Parameters<typeof tmpStore>[0], compression: Compression[]) {
  const fixture = await tmpStore(t);
  const built = await buildImageWithInfo({
    format: 'oci',
    repoTags: ['app:1'],
    layers: LAYERS.map((entries, i) => ({ entries, compression: compression[i % compression.length] })),
  });
  const file = path.join(fixture.dir, 'in.tar');
  await fs.writeFile(file, built.tar);
  await loadImages(fixture.store, { path: file });
  return { ...fixture, built };
}

async function treeOf(store: Store, name: string): Promise<string> {
  return formatTreeTsv(await listTree(await containerView(store, await createContainer(store, name))));
}

/** The index.json manifest digest of a saved tar (the new manifest for --uncompressed). */
async function savedManifestDigest(saved: string, dir: string): Promise<string> {
  const out = path.join(dir, 'index-only');
  await fs.mkdir(out, { recursive: true });
  await run('tar', ['-xf', saved, '-C', out, 'index.json']);
  return (JSON.parse(await fs.readFile(path.join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> }).manifests[0]!
    .digest;
}

/** An OCI layout directory skopeo wrote, loaded into a fresh store: its image ID and manifest digest. */
async function loadLayout(t: Parameters<typeof tmpStore>[0], layout: string) {
  const b = await tmpStore(t);
  const [image] = await loadImages(b.store, { path: layout });
  const record = await readImageRecord(b.store, image!.id);
  return { store: b.store, id: image!.id, manifestDigest: record.manifestDigest };
}

for (const { form, uncompressed } of FORMS) {
  testUnless(noSkopeo)(
    `save (${form}) → skopeo copy${uncompressed ? ' --preserve-digests' : ''} oci-archive: → oci: keeps the manifest digest and the image`,
    async (t) => {
      const a = await loadedImage(t, ['gzip']);
      const saved = path.join(a.dir, 'saved.tar');
      await saveImagesToFile(a.store, ['app:1'], saved, { uncompressed });
      const expectedManifest = uncompressed ? await savedManifestDigest(saved, a.dir) : a.built.image.manifestDigest;
      const layout = path.join(a.dir, 'copied');
      // Writing oci:, skopeo gzips plain layers (a new manifest) unless told to keep every digest.
      const keep = uncompressed ? ['--preserve-digests'] : [];
      await run('skopeo', ['copy', '-q', ...keep, `oci-archive:${saved}:1`, `oci:${layout}:1`]);
      const { stdout } = await run('skopeo', ['inspect', '--format', '{{.Digest}}', `oci:${layout}:1`]);
      t.is(stdout.trim(), expectedManifest);
      const b = await loadLayout(t, layout);
      t.is(b.id, a.built.image.imageId);
      t.is(b.manifestDigest, expectedManifest);
      t.is(await treeOf(b.store, b.id), await treeOf(a.store, 'app:1'));
    },
  );

  testUnless(noSkopeo)(
    `save (${form}) → skopeo copy docker-archive: → oci: keeps the config's content, the diffIDs and the tree`,
    async (t) => {
      const a = await loadedImage(t, ['gzip']);
      const saved = path.join(a.dir, 'saved.tar');
      await saveImagesToFile(a.store, ['app:1'], saved, { uncompressed });
      const layout = path.join(a.dir, 'copied');
      // docker-archive: reads manifest.json; skopeo writes a manifest of its own (a new digest).
      await run('skopeo', ['copy', '-q', `docker-archive:${saved}`, `oci:${layout}:1`]);
      // skopeo converts the config through its own types (times re-encoded), so the bytes and the ID change; the content does not.
      const { stdout } = await run('skopeo', ['inspect', '--config', '--raw', `oci:${layout}:1`]);
      t.deepEqual(comparableConfig(JSON.parse(stdout)), comparableConfig(a.built.image.config));
      const b = await loadLayout(t, layout);
      t.deepEqual(
        (await readImageRecord(b.store, b.id)).layers.map((l) => l.diffId),
        a.built.image.layers.map((l) => l.diffId),
      );
      t.is(await treeOf(b.store, b.id), await treeOf(a.store, 'app:1'));
    },
  );
}

/** Byte-for-byte comparisons of whole archives by digest: ava's deepEqual walks a Buffer byte by byte, minutes for 12 MB. */
async function fileDigest(file: string): Promise<string> {
  return createHash('sha256')
    .update(await fs.readFile(file))
    .digest('hex');
}

/** A config with its times as instants: `…20.000Z` and `…20Z` are one time. */
function comparableConfig(config: unknown): unknown {
  return JSON.parse(JSON.stringify(config), (key, value: unknown) =>
    key === 'created' && typeof value === 'string' ? new Date(value).toISOString() : value,
  );
}

/** A directory tree as lines: path, type, mode, owner (as root), size, content digest or link target, link count. */
async function hostTree(root: string): Promise<string[]> {
  const lines: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of (await fs.readdir(path.join(root, rel))).sort()) {
      const p = path.join(rel, name);
      const st = await fs.lstat(path.join(root, p));
      const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : 'other';
      const owner = asRoot ? `${st.uid}:${st.gid}` : '';
      const what =
        type === 'f'
          ? createHash('sha256')
              .update(await fs.readFile(path.join(root, p)))
              .digest('hex')
          : type === 'l'
            ? await fs.readlink(path.join(root, p))
            : '';
      lines.push(
        [
          p,
          type,
          type === 'l' ? '' : (st.mode & 0o7777).toString(8),
          owner,
          type === 'f' ? st.size : '',
          what,
          type === 'f' ? st.nlink : '',
        ].join('\t'),
      );
      if (type === 'd') await walk(p);
    }
  }
  await walk('');
  return lines;
}

for (const { form, uncompressed } of FORMS) {
  // umoci 0.4 reads no zstd layers: --uncompressed is what lets it read a zstd image.
  const compression: Compression[] = uncompressed ? ['zstd', 'gzip', 'none'] : ['gzip', 'none'];
  testUnless(firstReason(noUmoci, noGnuTar, uncompressed ? noZstd : null))(
    `umoci unpack of the extracted save (${form}) gives the tree strata export writes`,
    async (t) => {
      const a = await loadedImage(t, compression);
      const saved = path.join(a.dir, 'saved.tar');
      await saveImagesToFile(a.store, ['app:1'], saved, { uncompressed });
      const layout = path.join(a.dir, 'layout');
      await fs.mkdir(layout);
      await run('tar', ['-xf', saved, '-C', layout]);
      const bundle = path.join(a.dir, 'bundle');
      await run('umoci', ['unpack', ...(asRoot ? [] : ['--rootless']), '--image', `${layout}:1`, bundle]);

      const exported = path.join(a.dir, 'export.tar');
      await exportContainerToFile(a.store, await createContainer(a.store, 'app:1'), exported);
      const extracted = path.join(a.dir, 'extracted');
      await fs.mkdir(extracted);
      await run('tar', ['-xpf', exported, '-C', extracted, '--numeric-owner', ...(asRoot ? ['--same-owner'] : [])]);

      const umociTree = await hostTree(path.join(bundle, 'rootfs'));
      t.deepEqual(umociTree, await hostTree(extracted));
      t.true(umociTree.some((l) => l.startsWith('opt/data/new\t')));
      t.false(
        umociTree.some((l) => /^(etc\/gone|opt\/data\/old)\t/.test(l)),
        'whiteouts and the opaque dir applied',
      );
    },
  );
}

test('load → save → load → save is the identity: the same image ID, records and archive bytes', async (t) => {
  const a = await loadedImage(t, ['gzip', 'none']);
  for (const { uncompressed } of FORMS) {
    const first = path.join(a.dir, `first-${uncompressed}.tar`);
    await saveImagesToFile(a.store, ['app:1'], first, { uncompressed });
    const b = await tmpStore(t);
    await loadImages(b.store, { path: first });
    const second = path.join(b.dir, 'second.tar');
    await saveImagesToFile(b.store, ['app:1'], second, { uncompressed });
    t.is(await fileDigest(second), await fileDigest(first));
    t.is((await findImage(b.store, 'app:1')).id, a.built.image.imageId);
  }
});

for (const { form, uncompressed } of FORMS) {
  testUnless(noSkopeo)(
    `a committed image saves (${form}), goes through skopeo oci-archive: with its manifest digest, and loads back as itself`,
    async (t) => {
      const a = await loadedImage(t, ['gzip']);
      const container = await createContainer(a.store, 'app:1', { name: 'work' });
      const view = await containerView(a.store, container);
      await view.writeFile('/app/new', 'made in the container\n', { mode: 0o640 });
      await view.rm('/etc/os-release');
      const committed = await commitContainer(a.store, container, { reference: 'made:1' });
      const saved = path.join(a.dir, 'made.tar');
      await saveImagesToFile(a.store, ['made:1'], saved, { uncompressed });
      const manifestDigest = await savedManifestDigest(saved, a.dir);
      const layout = path.join(a.dir, 'copied');
      const keep = uncompressed ? ['--preserve-digests'] : [];
      await run('skopeo', ['copy', '-q', ...keep, `oci-archive:${saved}:1`, `oci:${layout}:1`]);
      const b = await loadLayout(t, layout);
      t.is(b.id, committed.id);
      t.is(b.manifestDigest, manifestDigest);
      const tree = await treeOf(b.store, b.id);
      t.regex(tree, /app\/new/);
      t.notRegex(tree, /os-release/);
      t.is(tree, await treeOf(a.store, 'made:1'));
      const again = path.join(a.dir, 'again.tar');
      await saveImagesToFile(b.store, [b.id], again, { uncompressed });
      const c = await tmpStore(t);
      t.is((await loadImages(c.store, { path: again }))[0]!.id, committed.id);
    },
  );
}

test('export → import → save → load: the imported image exports the same tar again', async (t) => {
  const a = await loadedImage(t, ['gzip']);
  const exported = path.join(a.dir, 'export.tar');
  await exportContainerToFile(a.store, await createContainer(a.store, 'app:1'), exported);
  const imported = await strata(a.store.root, ['import', exported, 'flat:1']);
  t.is(imported.stderr, '');
  const saved = path.join(a.dir, 'flat.tar');
  t.is((await strata(a.store.root, ['save', '-o', saved, 'flat:1'])).code, 0);
  const b = await tmpStore(t);
  const [image] = await loadImages(b.store, { path: saved });
  t.is(image!.id, imported.stdout.trim());
  const again = path.join(b.dir, 'again.tar');
  await exportContainerToFile(b.store, await createContainer(b.store, 'flat:1'), again);
  t.is(await fileDigest(again), await fileDigest(exported));
});

for (const { tarball } of conformanceTarballs()) {
  const name = path.basename(tarball);
  test(`${name}: load → save → load keeps the image ID, manifest, config and every layer digest`, async (t) => {
    const a = await tmpStore(t);
    const images = await loadImages(a.store, { path: tarball });
    const ids = images.map((i) => i.id);
    const saved = path.join(a.dir, 'saved.tar');
    await saveImagesToFile(a.store, ids, saved);
    const b = await tmpStore(t);
    t.deepEqual(
      (await loadImages(b.store, { path: saved })).map((i) => i.id),
      ids,
    );
    for (const id of ids) {
      const [before, after] = [await readImageRecord(a.store, id), await readImageRecord(b.store, id)];
      t.is(after.configDigest, before.configDigest);
      // docker-save input has no manifest: the one save wrote is what the second store records.
      if (before.manifestDigest !== null) t.is(after.manifestDigest, before.manifestDigest);
      t.deepEqual(
        after.layers.map((l) => [l.diffId, l.blobDigest, l.chainId]),
        before.layers.map((l) => [l.diffId, l.blobDigest, l.chainId]),
      );
    }
    const again = path.join(b.dir, 'again.tar');
    await saveImagesToFile(b.store, ids, again);
    t.is(await fileDigest(again), await fileDigest(saved), 'the second save is byte for byte the first');
  });

  test(`${name}: load → save --uncompressed → load keeps the image ID and diffIDs, with the plain tars as blobs`, async (t) => {
    const a = await tmpStore(t);
    const ids = (await loadImages(a.store, { path: tarball })).map((i) => i.id);
    const saved = path.join(a.dir, 'plain.tar');
    await saveImagesToFile(a.store, ids, saved, { uncompressed: true });
    const b = await tmpStore(t);
    t.deepEqual(
      (await loadImages(b.store, { path: saved })).map((i) => i.id),
      ids,
    );
    for (const id of ids) {
      const [before, after] = [await readImageRecord(a.store, id), await readImageRecord(b.store, id)];
      t.deepEqual(
        after.layers.map((l) => [l.diffId, l.blobDigest, l.chainId]),
        before.layers.map((l) => [l.diffId, l.diffId, l.chainId]),
      );
    }
    const again = path.join(b.dir, 'again.tar');
    await saveImagesToFile(b.store, ids, again, { uncompressed: true });
    t.is(await fileDigest(again), await fileDigest(saved), 'the second save is byte for byte the first');
  });
}
testUnless(noShared)('the conformance images are there to round-trip', (t) => {
  t.true(conformanceTarballs().length >= 8);
});
