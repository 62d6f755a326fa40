/**
 * Not a test file: rootless-access.test.ts runs this as an unprivileged user. It
 * makes a store (rootless, as its user is not root), loads an image, creates a
 * container and goes through a list of steps on its view, printing one JSON object:
 * each step's outcome (`{ ok: value }` or `{ error: code }`).
 * Usage: node rootless-access-worker.js <store-root> <image.tar> <out-dir>
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { openStore } from '../../src/store/root.js';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { exportContainerToFile } from '../../src/container/export.js';
import { archiveFromView, copyFromView } from '../../src/container/copy.js';

const [root, imageTar, outDir] = process.argv.slice(2);
if (!root || !imageTar || !outDir) {
  process.stderr.write('usage: rootless-access-worker.js <store-root> <image.tar> <out-dir>\n');
  process.exit(2);
}
const store = await openStore({ root, whiteoutFormat: 'oci' });
await loadImages(store, { path: imageTar });
const record = await createContainer(store, 'app:1', { name: 'app1' });
const view = await containerView(store, record);

const results: Record<string, unknown> = { uid: process.getuid?.(), rootless: store.info.rootless };
async function step(name: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    results[name] = { ok: (await fn()) ?? null };
  } catch (err) {
    results[name] = { error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
    process.stderr.write(`${name}: ${(err as Error).stack}\n`);
  }
}
const text = async (p: string) => (await view.readFile(p)).toString();
const mode = async (p: string) => (await view.lstat(p)).mode.toString(8);

await step('read /etc/shadow', () => text('/etc/shadow'));
await step('mode /etc/shadow', () => mode('/etc/shadow'));
await step('owner /etc/shadow', async () => {
  const st = await view.lstat('/etc/shadow');
  return `${st.uid}:${st.gid}`;
});
await step('list /d0000', () => view.readdir('/d0000'));
await step('list /d0100', () => view.readdir('/d0100'));
await step('list /d0400', () => view.readdir('/d0400'));
await step('read /d0000/sub/deep', () => text('/d0000/sub/deep'));
await step('read /d0100/file', () => text('/d0100/file'));
await step('read /d0400/file', () => text('/d0400/file'));
await step('readlink /d0000/link', () => view.readlink('/d0000/link'));
await step('read through /d0000/link', () => text('/d0000/link'));
await step('append /etc/locked', () => view.appendFile('/etc/locked', 'more\n'));
await step('read /etc/locked after append', () => text('/etc/locked'));
await step('mode /etc/locked after append', () => mode('/etc/locked'));
await step('layer /etc/locked after append', async () => (await view.lstat('/etc/locked')).layer);
await step('write upper /etc/locked', () => view.writeFile('/etc/locked', 'rewritten\n'));
await step('append upper /etc/locked', () => view.appendFile('/etc/locked', 'again\n'));
await step('read upper /etc/locked', () => text('/etc/locked'));
await step('truncate upper /etc/locked', async () => {
  await view.truncate('/etc/locked', 4);
  return text('/etc/locked');
});
await step('chown upper /etc/locked', async () => {
  await view.chown('/etc/locked', 7, 8);
  const st = await view.lstat('/etc/locked');
  return `${st.uid}:${st.gid} ${st.mode.toString(8)}`;
});
await step('chown lower /d0000/file', async () => {
  await view.chown('/d0000/file', 5, -1);
  const st = await view.lstat('/d0000/file');
  return `${st.uid}:${st.gid} ${st.mode.toString(8)} ${st.layer}`;
});
await step('chown lower /etc/shadow', async () => {
  await view.chown('/etc/shadow', 5, -1);
  const st = await view.lstat('/etc/shadow');
  return `${st.uid}:${st.gid} ${st.mode.toString(8)} ${st.layer}`;
});
await step('lchown lower /d0000/link', async () => {
  await view.lchown('/d0000/link', 6, 6);
  const st = await view.lstat('/d0000/link');
  return `${st.uid}:${st.gid} ${st.layer}`;
});
await step('append /d0000/sub/deep', async () => {
  await view.appendFile('/d0000/sub/deep', 'more\n');
  return text('/d0000/sub/deep');
});
await step('export', () => exportContainerToFile(store, record, path.join(outDir, 'export.tar')).then((r) => r.entries));
await step('cp /d0000 -', async () => {
  const handle = await fs.open(path.join(outDir, 'd0000.tar'), 'w');
  const out = handle.createWriteStream();
  try {
    return (await archiveFromView(view, '/d0000', out)).entries;
  } finally {
    await new Promise((resolve) => out.end(resolve));
  }
});
await step('cp /d0000 HOSTDIR', async () => (await copyFromView(view, '/d0000', path.join(outDir, 'copied'))).entries);
await step('cp /etc/shadow HOSTDIR', async () => (await copyFromView(view, '/etc/shadow', path.join(outDir, 'shadow'))).entries);
process.stdout.write(JSON.stringify(results));
