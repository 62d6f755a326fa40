/** `strata commit` through the CLI: its output, its flags and its one-line errors. */
import test from 'ava';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { strata } from '../helpers/cli.js';
import { snapshotContent } from '../helpers/store-snapshot.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { readTags } from '../../src/image/tags.js';

const BASE: LayerInput[] = [[{ path: 'etc/' }, { path: 'etc/hostname', content: 'box\n' }]];

test('commit prints the new image ID as docker does, and tags it', async (t) => {
  const { store, view } = await containerFromLayers(t, 'oci', BASE);
  await view.writeFile('/etc/hostname', 'changed\n');
  const result = await strata(store.root, ['commit', 'app1', 'new:1']);
  t.is(result.stderr, '');
  t.is(result.code, 0);
  t.regex(result.stdout, /^sha256:[0-9a-f]{64}\n$/);
  t.is((await readTags(store))['new:1'], result.stdout.trim());
  const viaContainer = await strata(store.root, ['container', 'commit', 'app1']);
  t.regex(viaContainer.stdout, /^sha256:[0-9a-f]{64}\n$/);
});

test('commit of a container that does not exist is one line, exit 1, and the store is unchanged', async (t) => {
  const { store } = await containerFromLayers(t, 'oci', BASE);
  const before = await snapshotContent(store.root);
  const result = await strata(store.root, ['commit', 'nosuch', 'new:1']);
  t.deepEqual(result, { code: 1, stdout: '', stderr: 'strata: No such container: nosuch\n' });
  t.deepEqual(await snapshotContent(store.root), before);
});
