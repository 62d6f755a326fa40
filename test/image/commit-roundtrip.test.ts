/** commit → save → load into a fresh store → a container of the image has the original container's tree. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { bothFormats } from '../helpers/both-formats.js';
import { containerFromLayers } from '../helpers/container-fixture.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { commitContainer } from '../../src/transfer/commit.js';
import { saveImagesToFile } from '../../src/transfer/save.js';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { exportContainerToFile } from '../../src/container/export.js';
import { openStore } from '../../src/store/root.js';
import { findImage } from '../../src/image/lookup.js';

const BASE: LayerInput[] = [
  [
    { path: 'bin/' },
    { path: 'bin/sh', content: '#!sh\n', mode: 0o755 },
    { path: 'etc/' },
    { path: 'etc/hostname', content: 'box\n' },
    { path: 'etc/motd', content: 'welcome\n' },
    { path: 'var/', mode: 0o700, uid: 7, gid: 8 },
    { path: 'var/lib/' },
    { path: 'var/lib/db', content: 'rows' },
    { path: 'var/lib/db2', type: 'hardlink', linkname: 'var/lib/db' },
  ],
  [{ path: 'usr/' }, { path: 'usr/share/' }, { path: 'usr/share/doc', content: 'docs' }],
];

bothFormats('a committed image saved and loaded into a fresh store gives containers the same tree as the original', async (t, format) => {
  const { store, dir, record, view } = await containerFromLayers(t, format, BASE);
  await view.rm('/etc/motd');
  await view.writeFile('/etc/new', 'new\n', { mode: 0o640 });
  await view.chown('/etc/new', 10, 20);
  await view.rm('/usr/share', { recursive: true });
  await view.mkdir('/usr/share', { mode: 0o711 });
  await view.writeFile('/usr/share/fresh', 'fresh');
  await view.appendFile('/var/lib/db', ' more');
  await view.link('/etc/new', '/bin/new-link');
  await view.symlink('/etc/hostname', '/bin/host');
  await view.link('/bin/host', '/etc/host-link');
  await view.chmod('/bin/sh', 0o4755);

  const image = await commitContainer(store, record, { reference: 'committed:1' });
  const original = path.join(dir, 'original.tar');
  await exportContainerToFile(store, record, original);
  const archive = path.join(dir, 'saved.tar');
  await saveImagesToFile(store, ['committed:1'], archive);

  const fresh = await openStore({ root: path.join(dir, 'fresh'), whiteoutFormat: format });
  const [loaded] = await loadImages(fresh, { path: archive });
  t.is(loaded!.id, image.id, 'the same image ID after the round trip');
  t.deepEqual(
    (await findImage(fresh, 'committed:1')).layers.map((l) => [l.diffId, l.blobDigest]),
    (await findImage(store, 'committed:1')).layers.map((l) => [l.diffId, l.blobDigest]),
    'the same layers and blobs',
  );
  const copy = await createContainer(fresh, 'committed:1', { name: 'copy' });
  const copied = path.join(dir, 'copy.tar');
  await exportContainerToFile(fresh, copy, copied);
  t.deepEqual(await fs.readFile(copied), await fs.readFile(original), 'the exports are byte for byte the same');
  const linked = await containerView(fresh, copy);
  t.is((await linked.lstat('/etc/host-link')).type, 'symlink');
  t.is((await linked.lstat('/etc/host-link')).ino, (await linked.lstat('/bin/host')).ino, 'a hardlinked symlink stays one inode');
});
