/** `commit`: what the committed layer holds, entry by entry, in both whiteout encodings. */
import { bothFormats } from '../helpers/both-formats.js';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { layerLines } from '../helpers/layer-listing.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { commitContainer } from '../../src/transfer/commit.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { findImage } from '../../src/image/lookup.js';

const BASE: LayerInput[] = [
  [
    { path: 'bin/' },
    { path: 'bin/sh', content: '#!sh\n', mode: 0o755 },
    { path: 'etc/' },
    { path: 'etc/hostname', content: 'box\n' },
    { path: 'etc/motd', content: 'welcome\n' },
    { path: 'opt/' },
    { path: 'opt/data/' },
    { path: 'opt/data/old', content: 'old\n' },
  ],
];

bothFormats('a commit holds the changes as an OCI layer: whiteouts, opaque dirs, hardlinks, parents', async (t, format) => {
  const { store, record, view } = await containerFromLayers(t, format, BASE);
  await view.writeFile('/newf', 'hi\n', { mode: 0o644 });
  await view.link('/newf', '/newl');
  await view.rm('/etc/motd');
  await view.appendFile('/etc/hostname', 'more\n');
  await view.rm('/opt/data', { recursive: true });
  await view.mkdir('/opt/data', { mode: 0o750 });
  await view.writeFile('/opt/data/n', 'x\n', { mode: 0o600 });

  const image = await commitContainer(store, record, { reference: 'new:1' });
  t.regex(image.id, /^sha256:[0-9a-f]{64}$/);
  t.false(image.emptyLayer);
  t.deepEqual(await layerLines(store, 'new:1'), [
    'etc/ dir 0755 0:0',
    'etc/hostname file 0644 0:0 "box\\nmore\\n"',
    'etc/.wh.motd file 0600 0:0 ""',
    'newf file 0644 0:0 "hi\\n"',
    'newl link 0644 0:0 -> newf',
    'opt/ dir 0755 0:0',
    'opt/data/ dir 0750 0:0',
    'opt/data/.wh..wh..opq file 0750 0:0 ""',
    'opt/data/n file 0600 0:0 "x\\n"',
  ]);

  // A container of the new image sees the changes, and nothing of what they removed.
  const again = await createContainer(store, 'new:1', { name: 'again' });
  const seen = await containerView(store, again);
  t.deepEqual(await seen.readdir('/opt/data'), ['n']);
  t.deepEqual(await seen.readdir('/etc'), ['hostname']);
  t.is(await seen.readFile('/newl', 'utf8'), 'hi\n');
  t.is((await seen.lstat('/newl')).ino, (await seen.lstat('/newf')).ino);
  t.is((await findImage(store, 'new:1')).layers.length, 2);
});

bothFormats(
  "containerd's MoveFileFromLowerLayer: a link to a lower file, then the original removed, carries the data",
  async (t, format) => {
    const { store, record, view } = await containerFromLayers(t, format, BASE);
    await view.mkdir('/opt/moved', { mode: 0o700 });
    await view.link('/etc/motd', '/opt/moved/motd');
    await view.rm('/etc/motd');
    await commitContainer(store, record, { reference: 'moved:1' });
    t.deepEqual(await layerLines(store, 'moved:1'), [
      'etc/ dir 0755 0:0',
      'etc/.wh.motd file 0600 0:0 ""',
      'opt/ dir 0755 0:0',
      'opt/moved/ dir 0700 0:0',
      'opt/moved/motd file 0644 0:0 "welcome\\n"',
    ]);
    const again = await containerView(store, await createContainer(store, 'moved:1', { name: 'moved' }));
    t.is(await again.readFile('/opt/moved/motd', 'utf8'), 'welcome\n');
    t.false(await again.exists('/etc/motd'));
  },
);
