/** The config and history `commit` writes: the container's Config, -c, -m, -a, empty layers, the epoch. */
import test from 'ava';
import { containerFromLayers } from '../helpers/container-fixture.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { commitContainer } from '../../src/transfer/commit.js';
import { findImage } from '../../src/image/lookup.js';
import { readImageConfig } from '../../src/image/inspect.js';
import type { Store } from '../../src/store/root.js';

const BASE: LayerInput[] = [[{ path: 'etc/' }, { path: 'etc/hostname', content: 'box\n' }]];

async function configOf(store: Store, name: string) {
  return readImageConfig(store, await findImage(store, name));
}

test("the new config is the image's with the container's Config over it, then -c; -a and -m go into it and into the history", async (t) => {
  const { store, record, view } = await containerFromLayers(t, 'oci', BASE, {
    env: ['MODE=prod'],
    workingDir: '/srv',
    user: '1000',
    labels: { team: 'web' },
    command: ['serve', '--port', '80'],
  });
  await view.writeFile('/etc/hostname', 'web\n');
  const parent = await configOf(store, 'app:1');
  const image = await commitContainer(store, record, {
    reference: 'web:2',
    author: 'A. Author <a@example.com>',
    message: 'tuned the hostname',
    changes: ['ENV PATH=/opt/bin:$PATH', 'EXPOSE 8080', 'VOLUME /data', 'STOPSIGNAL SIGINT', 'ONBUILD RUN make'],
    sourceDateEpoch: 1700000000,
  });
  const config = await configOf(store, 'web:2');
  const layer = (await findImage(store, 'web:2')).layers.at(-1)!;
  t.deepEqual(config, {
    ...parent,
    created: '2023-11-14T22:13:20Z',
    author: 'A. Author <a@example.com>',
    comment: 'tuned the hostname',
    config: {
      Env: ['MODE=prod', 'PATH=/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['serve', '--port', '80'],
      User: '1000',
      WorkingDir: '/srv',
      Labels: { team: 'web' },
      ExposedPorts: { '8080/tcp': {} },
      Volumes: { '/data': {} },
      StopSignal: 'SIGINT',
      OnBuild: ['RUN make'],
    },
    history: [
      ...(parent.history ?? []),
      {
        created: '2023-11-14T22:13:20Z',
        author: 'A. Author <a@example.com>',
        created_by: 'serve --port 80',
        comment: 'tuned the hostname',
      },
    ],
    rootfs: { type: 'layers', diff_ids: [...parent.rootfs.diff_ids, layer.diffId] },
  });
  t.is(image.id, (await findImage(store, 'web:2')).id);
  t.is((await findImage(store, 'web:2')).created, '2023-11-14T22:13:20Z');
});

test('an unchanged container adds no layer: the history entry says empty_layer and diff_ids stay as they were', async (t) => {
  const { store, record } = await containerFromLayers(t, 'oci', BASE);
  const parent = await configOf(store, 'app:1');
  const blobsBefore = (await findImage(store, 'app:1')).layers;
  const image = await commitContainer(store, record, { reference: 'same:1' });
  t.true(image.emptyLayer);
  const config = await configOf(store, 'same:1');
  t.deepEqual(config.rootfs, parent.rootfs);
  t.deepEqual(config.history!.at(-1), { created: config.created, created_by: '/bin/sh', empty_layer: true });
  t.deepEqual((await findImage(store, 'same:1')).layers, blobsBefore);
});

test("ENTRYPOINT from -c drops the container's Cmd, unless a CMD came before it, as Docker's builder does", async (t) => {
  const { store, record } = await containerFromLayers(t, 'oci', BASE);
  await commitContainer(store, record, { reference: 'ep:1', changes: ['ENTRYPOINT ["/init"]'] });
  const dropped = (await configOf(store, 'ep:1')).config as Record<string, unknown>;
  t.deepEqual([dropped.Entrypoint, dropped.Cmd], [['/init'], undefined]);
  await commitContainer(store, record, { reference: 'ep:2', changes: ['CMD ["run"]', 'ENTRYPOINT ["/init"]'] });
  const kept = (await configOf(store, 'ep:2')).config as Record<string, unknown>;
  t.deepEqual([kept.Entrypoint, kept.Cmd], [['/init'], ['run']]);
});
