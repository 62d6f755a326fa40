import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { diskUsage } from '../../src/usage/df.js';
import { containerUsage } from '../../src/usage/container-usage.js';
import { humanSize } from '../../src/cli/format.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { sharedSkipReason } from '../helpers/shared.js';
import { loadDockerLab } from '../helpers/docker-lab.js';
import { readDockerRecord } from '../helpers/docker-record.js';
import { testUnless } from '../helpers/skip.js';

// ../shared/conformance/docker/03-two-containers-df.txt: Docker's `system df -v` over
// eight images, rebuilt by test/helpers/docker-lab.ts; every SIZE, SHARED SIZE and
// UNIQUE SIZE must print as Docker printed it.

testUnless(sharedSkipReason())('system df -v sizes equal what Docker printed for the same images', async (t) => {
  const { store } = await tmpStore(t);
  await loadDockerLab(t, store);

  // web-a writes `only-in-a\n` into lab/web's tree, as in the recording.
  const webA = await createContainer(store, 'lab/web-alias:2.0', { name: 'web-a' });
  await (await containerView(store, webA)).writeFile('/srv/a.txt', 'only-in-a\n');
  await createContainer(store, 'lab/web-alias:2.0', { name: 'web-b' });
  await createContainer(store, 'lab/big:1.0', { name: 'myapp' });

  const record = readDockerRecord('03-two-containers-df.txt').find((c) => c.command === 'docker system df -v')!;
  const dockerRows = new Map<string, string[]>();
  for (const line of record.output) {
    const cells = line.split(/ {2,}/);
    if (cells.length === 8 && cells[0]!.startsWith('lab/'))
      dockerRows.set(`${cells[0]}:${cells[1]}`, [cells[4]!, cells[5]!, cells[6]!, cells[7]!]);
  }
  t.is(dockerRows.size, 8);
  const usage = await diskUsage(store);
  for (const [tag, [size, shared, unique, containers]] of dockerRows) {
    const ours = usage.images.find((i) => i.repoTags.includes(tag));
    t.truthy(ours, tag);
    t.deepEqual(
      [humanSize(ours!.size), humanSize(ours!.sharedSize), humanSize(ours!.uniqueSize), String(ours!.containers)],
      [size, shared, unique, containers],
      tag,
    );
  }
  t.is((await containerUsage(store, webA)).sizeRw, 10, "web-a: Docker's SIZE 10B");
  const api = readDockerRecord('03-two-containers-df.txt').find((c) => c.command.includes('/system/df'))!;
  const layersSize = Number(/"LayersSize": (\d+)/.exec(api.output.join('\n'))![1]);
  t.is(usage.layersSize, layersSize, "the bytes of all distinct layers, as Docker's API reports them");
  // Docker's summary row: `Images 8 2 69.09MB 1.984MB (2%)`.
  const summary = readDockerRecord('03-two-containers-df.txt').find((c) => c.command === 'docker system df')!;
  const imagesRow = summary.output.find((l) => l.startsWith('Images'))!.split(/ {2,}/);
  const images = usage.summary[0]!;
  t.deepEqual(
    [
      String(images.total),
      String(images.active),
      humanSize(images.size),
      `${humanSize(images.reclaimable)} (${Math.floor((100 * images.reclaimable) / images.size)}%)`,
    ],
    imagesRow.slice(1),
  );
});
