/**
 * Not a test file: mode-round-trip-rootless.test.ts runs this as an unprivileged
 * user. It makes a (rootless) store, loads the image, and exports and copies /f and
 * /d every way a user can; prints `{ view: { dir: ["NAME MODE", …] } }` for what it
 * copied into the container. The archives and the host copies are left in out-dir.
 * Usage: node mode-round-trip-worker.js <store-root> <image.tar> <out-dir>
 */
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { openStore } from '../../src/store/root.js';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { exportContainerToFile } from '../../src/container/export.js';
import { archiveFromView, copyFromView, extractToView } from '../../src/container/copy.js';

const [root, imageTar, outDir] = process.argv.slice(2);
if (!root || !imageTar || !outDir) {
  process.stderr.write('usage: mode-round-trip-worker.js <store-root> <image.tar> <out-dir>\n');
  process.exit(2);
}
const store = await openStore({ root, whiteoutFormat: 'oci' });
await loadImages(store, { path: imageTar });
const record = await createContainer(store, 'app:1', { name: 'app1' });
const view = await containerView(store, record);

await exportContainerToFile(store, record, path.join(outDir, 'export.tar'));
for (const dir of ['f', 'd']) {
  const out = fs.createWriteStream(path.join(outDir, `${dir}.tar`));
  await archiveFromView(view, `/${dir}`, out);
  out.end();
  await once(out, 'close');
  await copyFromView(view, `/${dir}`, path.join(outDir, 'copied'));
}
await view.mkdir('/in');
const listed: Record<string, string[]> = {};
for (const dir of ['f', 'd']) {
  await extractToView(view, fs.createReadStream(path.join(outDir, `${dir}.tar`)), '/in');
  listed[dir] = [];
  for (const name of await view.readdir(`/in/${dir}`))
    listed[dir].push(`${name} ${(await view.lstat(`/in/${dir}/${name}`)).mode.toString(8).padStart(4, '0')}`);
}
process.stdout.write(JSON.stringify({ uid: process.getuid?.(), rootless: store.info.rootless, view: listed }));
