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
import { DIR_MODES, LAYER, expected, hostModes, name, tarModes } from '../helpers/all-modes.js';
import { exportContainer } from '../../src/container/export.js';
import { archiveFromView, copyFromView, copyToView, extractToView } from '../../src/container/copy.js';
import type { Resolver } from '../../src/resolver/resolver.js';

async function viewModes(view: Resolver, dir: string): Promise<string[]> {
  const rows: string[] = [];
  for (const entry of await view.readdir(dir)) rows.push(`${entry} ${name((await view.lstat(`${dir}/${entry}`)).mode)}`);
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
  t.is(
    parseTar(tar)
      .find((e) => e.name === 'd/0000/x')
      ?.body.toString(),
    'x\n',
  );
});

bothFormats('cp CONTAINER:PATH - writes every one of the 4096 modes as it is', async (t, format) => {
  const { view } = await containerFromLayers(t, format, [LAYER]);
  t.deepEqual(tarModes(await collect((out) => archiveFromView(view, '/f', out)), 'f/'), expected());
  t.deepEqual(tarModes(await collect((out) => archiveFromView(view, '/d', out)), 'd/'), expected(DIR_MODES));
  const one = parseTar(await collect((out) => archiveFromView(view, '/f/0000', out)));
  t.deepEqual(
    one.map((e) => [e.name, e.mode]),
    [['0000', 0]],
  );
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
