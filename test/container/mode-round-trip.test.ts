/**
 * Every permission mode survives `export`, `cp CONTAINER:PATH -`, `cp CONTAINER:PATH
 * HOSTDIR`, `cp HOSTDIR CONTAINER:PATH` and `cp - CONTAINER:DIR`: all 4096 for files (0000,
 * setuid, setgid and sticky included) and a representative set for directories. A writer that
 * took mode 0 for "unset" once exported a 0000 /etc/shadow as 0644.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { bothFormats } from '../helpers/both-formats.js';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { parseTar } from '../helpers/raw-tar.js';
import type { LayerEntry } from '../helpers/image-builder.js';
import { exportContainer } from '../../src/container/export.js';
import { archiveFromView, copyFromView, copyToView, extractToView } from '../../src/container/copy.js';
import type { Resolver } from '../../src/resolver/resolver.js';

const MODES = Array.from({ length: 0o10000 }, (_, mode) => mode);
/**
 * Directories: every special bit and every owner/group/other permission alone and
 * combined, not all 4096 (each directory costs a mkdir, a chmod and a child file on
 * every copy, which made the suite take minutes).
 */
const DIR_MODES = [
  0o0000, 0o0001, 0o0002, 0o0004, 0o0007, 0o0010, 0o0020, 0o0040, 0o0070, 0o0100, 0o0200, 0o0300, 0o0400, 0o0500,
  0o0600, 0o0700, 0o0711, 0o0750, 0o0755, 0o0777, 0o1000, 0o1777, 0o2000, 0o2755, 0o3000, 0o4000, 0o4755, 0o5000,
  0o6000, 0o7000, 0o7777,
];
const name = (mode: number) => mode.toString(8).padStart(4, '0');

/** /f/MODE: a file of each mode; /d/MODE/: a directory of each mode, holding a file `x`. */
const LAYER: LayerEntry[] = [
  { path: 'f/', mode: 0o755 },
  ...MODES.map((mode): LayerEntry => ({ path: `f/${name(mode)}`, content: `${name(mode)}\n`, mode })),
  { path: 'd/', mode: 0o755 },
  ...DIR_MODES.flatMap((mode): LayerEntry[] => [
    { path: `d/${name(mode)}/`, mode },
    { path: `d/${name(mode)}/x`, content: 'x\n', mode: 0o644 },
  ]),
];

/** `NAME MODE` for every file and directory of a tar, mode in octal. */
function tarModes(tar: Buffer, prefix: string): string[] {
  return parseTar(tar)
    .filter((e) => e.name.startsWith(prefix) && e.name !== prefix && !e.name.endsWith('/x'))
    .map((e) => `${e.name.slice(prefix.length).replace(/\/$/, '')} ${name(e.mode)}`);
}

function expected(modes = MODES): string[] {
  return modes.map((mode) => `${name(mode)} ${name(mode)}`);
}

async function viewModes(view: Resolver, dir: string): Promise<string[]> {
  const rows: string[] = [];
  for (const entry of await view.readdir(dir)) rows.push(`${entry} ${name((await view.lstat(`${dir}/${entry}`)).mode)}`);
  return rows;
}

async function hostModes(dir: string): Promise<string[]> {
  const rows: string[] = [];
  for (const entry of (await fs.readdir(dir)).sort()) rows.push(`${entry} ${name((await fs.lstat(path.join(dir, entry))).mode & 0o7777)}`);
  return rows;
}

async function collect(write: (out: PassThrough) => Promise<unknown>): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await write(out);
  return Buffer.concat(chunks);
}

bothFormats('export writes every one of the 4096 modes of files and directories as it is, 0000 included', async (t, format) => {
  const { store, record } = await containerFromLayers(t, format, [LAYER]);
  const tar = await collect((out) => exportContainer(store, record, out));
  t.deepEqual(tarModes(tar, 'f/'), expected());
  t.deepEqual(tarModes(tar, 'd/'), expected(DIR_MODES));
  // What is below a 0000 directory is exported too.
  t.is(parseTar(tar).find((e) => e.name === 'd/0000/x')?.body.toString(), 'x\n');
});

bothFormats('cp CONTAINER:PATH - writes every one of the 4096 modes as it is', async (t, format) => {
  const { view } = await containerFromLayers(t, format, [LAYER]);
  t.deepEqual(tarModes(await collect((out) => archiveFromView(view, '/f', out)), 'f/'), expected());
  t.deepEqual(tarModes(await collect((out) => archiveFromView(view, '/d', out)), 'd/'), expected(DIR_MODES));
  const one = parseTar(await collect((out) => archiveFromView(view, '/f/0000', out)));
  t.deepEqual(one.map((e) => [e.name, e.mode]), [['0000', 0]]);
});

bothFormats('cp CONTAINER:PATH HOSTDIR and back into the container keeps all 4096 modes', async (t, format) => {
  const { view, dir } = await containerFromLayers(t, format, [LAYER]);
  const out = path.join(dir, 'out');
  await fs.mkdir(out);
  await copyFromView(view, '/f', out);
  await copyFromView(view, '/d', out);
  t.deepEqual(await hostModes(path.join(out, 'f')), expected());
  t.deepEqual(await hostModes(path.join(out, 'd')), expected(DIR_MODES));
  t.is(await fs.readFile(path.join(out, 'd', '0000', 'x'), 'utf8'), 'x\n');

  await copyToView(view, path.join(out, 'f'), '/f2');
  await copyToView(view, path.join(out, 'd'), '/d2');
  t.deepEqual(await viewModes(view, '/f2'), expected());
  t.deepEqual(await viewModes(view, '/d2'), expected(DIR_MODES));
  t.is((await view.readFile('/d2/0000/x')).toString(), 'x\n');
  t.is((await view.readFile('/f2/0000')).toString(), '0000\n');
});

bothFormats('cp - CONTAINER:DIR keeps all 4096 modes of the tar', async (t, format) => {
  const { view } = await containerFromLayers(t, format, [LAYER]);
  const f = await collect((out) => archiveFromView(view, '/f', out));
  const d = await collect((out) => archiveFromView(view, '/d', out));
  await view.mkdir('/in');
  await extractToView(view, Readable.from([f]), '/in');
  await extractToView(view, Readable.from([d]), '/in');
  t.deepEqual(await viewModes(view, '/in/f'), expected());
  t.deepEqual(await viewModes(view, '/in/d'), expected(DIR_MODES));
  t.is((await view.readFile('/in/d/0000/x')).toString(), 'x\n');
});
