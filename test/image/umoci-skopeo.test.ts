import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadImages } from '../../src/transfer/load.js';
import { findImage } from '../../src/image/lookup.js';
import { imageView } from '../../src/image/view.js';
import { Resolver } from '../../src/resolver/resolver.js';
import { formatTreeTsv, listTree } from '../../src/resolver/tree.js';
import type { Store } from '../../src/store/root.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { testUnless } from '../helpers/skip.js';

const run = promisify(execFile);

async function missingTool(): Promise<string | null> {
  for (const tool of ['umoci', 'skopeo', 'tar']) {
    try {
      await run('which', [tool]);
    } catch {
      return `${tool} is not installed (Debian package ${tool}; .ci/run installs it)`;
    }
  }
  return null;
}

/** A two-layer image made by umoci itself: files, links and modes, then changes and a delete. */
async function umociImage(work: string): Promise<string> {
  const layout = path.join(work, 'layout');
  await run('umoci', ['init', '--layout', layout]);
  await run('umoci', ['new', '--image', `${layout}:v1`]);
  const b1 = path.join(work, 'b1');
  await run('umoci', ['unpack', '--rootless', '--image', `${layout}:v1`, b1]);
  const root = path.join(b1, 'rootfs');
  await fs.mkdir(path.join(root, 'etc'), { mode: 0o755 });
  await fs.writeFile(path.join(root, 'etc', 'hostname'), 'umoci\n');
  await fs.writeFile(path.join(root, 'etc', 'secret'), 'shh\n', { mode: 0o600 });
  await fs.mkdir(path.join(root, 'bin'));
  await fs.writeFile(path.join(root, 'bin', 'tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
  await fs.symlink('tool', path.join(root, 'bin', 'alias'));
  await fs.link(path.join(root, 'bin', 'tool'), path.join(root, 'bin', 'tool-hard'));
  await fs.mkdir(path.join(root, 'var', 'log'), { recursive: true });
  await fs.writeFile(path.join(root, 'var', 'log', 'boot.log'), 'booted\n');
  await run('umoci', ['repack', '--image', `${layout}:v1`, b1]);

  const b2 = path.join(work, 'b2');
  await run('umoci', ['unpack', '--rootless', '--image', `${layout}:v1`, b2]);
  const root2 = path.join(b2, 'rootfs');
  await fs.writeFile(path.join(root2, 'etc', 'hostname'), 'umoci-v2\n');
  await fs.rm(path.join(root2, 'var', 'log'), { recursive: true });
  await fs.mkdir(path.join(root2, 'app'));
  await fs.writeFile(path.join(root2, 'app', 'server.sh'), 'serve\n', { mode: 0o755 });
  await run('umoci', ['repack', '--image', `${layout}:v2`, b2]);
  return layout;
}

async function treeOfImage(store: Store, id: string): Promise<string> {
  const image = await findImage(store, id);
  return formatTreeTsv(
    await listTree(
      await imageView(
        store,
        image.layers.map((l) => l.chainId),
      ),
    ),
  );
}

testUnless(await missingTool())('images made by umoci and converted by skopeo load to what umoci unpack gives', async (t) => {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-umoci-'));
  t.teardown(() => fs.rm(work, { recursive: true, force: true }));
  const layout = await umociImage(work);

  // The truth: umoci's own rootless unpack of v2, listed like any merged view.
  const truthDir = path.join(work, 'truth');
  await run('umoci', ['unpack', '--rootless', '--image', `${layout}:v2`, truthDir]);
  const truth = formatTreeTsv(
    await listTree(new Resolver({ lowerDirs: [path.join(truthDir, 'rootfs')], format: 'overlay', readOnly: true })),
  );
  t.regex(truth, /\/app\/server\.sh\tfile\t0755/);
  t.notRegex(truth, /\/var\/log/);

  const ociTar = path.join(work, 'umoci.oci.tar');
  await run('tar', ['-cf', ociTar, '-C', layout, '.']);
  const skopeoOci = path.join(work, 'skopeo.oci-archive.tar');
  await run('skopeo', ['copy', '--quiet', `oci:${layout}:v2`, `oci-archive:${skopeoOci}:strata/umoci:v2`]);
  const skopeoDocker = path.join(work, 'skopeo.docker-archive.tar');
  await run('skopeo', ['copy', '--quiet', `oci:${layout}:v2`, `docker-archive:${skopeoDocker}:strata/umoci:docker`]);

  for (const [what, file] of [
    ['umoci OCI layout', ociTar],
    ['skopeo oci-archive', skopeoOci],
    ['skopeo docker-archive', skopeoDocker],
  ] as const) {
    const { store } = await tmpStore(t);
    const loaded = await loadImages(store, { path: file });
    // The umoci layout holds v1 and v2; pick v2 by its two layers' content.
    const ids = loaded.map((l) => l.id);
    const trees = await Promise.all(ids.map((id) => treeOfImage(store, id)));
    t.true(trees.includes(truth), `${what}: one of ${ids.length} loaded image(s) equals umoci unpack`);
  }
});
