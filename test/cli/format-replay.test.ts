import { strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { testUnless } from '../helpers/skip.js';
import { sharedSkipReason } from '../helpers/shared.js';
import { readDockerRecord } from '../helpers/docker-record.js';
import { loadDockerLab } from '../helpers/docker-lab.js';
import { createContainer } from '../../src/container/create.js';
import { startContainer } from '../../src/container/lifecycle.js';
import { containerView } from '../../src/container/view.js';
import { tagImage } from '../../src/image/tag.js';

// ../shared/conformance/docker/03-two-containers-df.txt and 01-load.txt: what Docker
// printed for `--format` templates over the lab images (rebuilt by docker-lab.ts). Fields
// that depend on when things happened (times, and the IDs of the images rebuilt here)
// are compared by shape; everything else byte for byte.
const TIMED = new Set(['CreatedAt', 'CreatedSince', 'RunningFor', 'Status']);

function recorded(file: string, command: string): string[] {
  const found = readDockerRecord(file).find((c) => c.command === command);
  if (!found) throw new Error(`${file} has no \`${command}\``);
  return found.output;
}

testUnless(sharedSkipReason())('ps, system df -v and history templates print what Docker printed for the lab', async (t) => {
  const { store } = await tmpStore(t);
  await loadDockerLab(t, store);
  // As recorded: lab/web is lab/web-alias under two more tags; three running containers.
  await tagImage(store, 'lab/web-alias:2.0', 'lab/web:1.0');
  await tagImage(store, 'lab/web-alias:2.0', 'lab/web:latest');
  await createContainer(store, 'lab/big:1.0', { name: 'myapp', command: ['sleep', '1000'] });
  const webA = await createContainer(store, 'lab/web:1.0', { name: 'web-a', command: ['sleep', '1000'] });
  await (await containerView(store, webA)).writeFile('/srv/a.txt', 'only-in-a\n');
  await createContainer(store, 'lab/web:latest', { name: 'web-b', command: ['sleep', '1000'] });
  for (const name of ['myapp', 'web-a', 'web-b']) await startContainer(store, name);
  const s = (args: string[]) => strata(store.root, args);

  /** Docker's object and ours: same keys in the same order, same values but for the timed ones. */
  const same = (ours: Record<string, string>, docker: Record<string, string>, what: string, ignore: string[] = []) => {
    t.deepEqual(Object.keys(ours), Object.keys(docker), what);
    for (const key of Object.keys(docker)) {
      if (TIMED.has(key) || ignore.includes(key)) t.is(typeof ours[key], 'string', `${what} ${key}`);
      else t.is(ours[key], docker[key], `${what} ${key}`);
    }
  };

  // docker ps -s --no-trunc --format '{{.Names}}\t{{.Size}}'
  t.is(
    (await s(['ps', '-s', '--no-trunc', '--format', '{{.Names}}\\t{{.Size}}'])).stdout,
    `${recorded('03-two-containers-df.txt', "docker ps -s --no-trunc --format '{{.Names}}\\t{{.Size}}'").join('\n')}\n`,
  );

  // docker ps -s --format '{{json .}}': one object a line, containers newest first.
  const dockerPs = recorded('03-two-containers-df.txt', "docker ps -s --format '{{json .}}'").map((l) => JSON.parse(l));
  const ourPs = (await s(['ps', '-s', '--format', '{{json .}}'])).stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    ourPs.map((c) => c.Names),
    dockerPs.map((c) => c.Names),
  );
  for (const [i, docker] of dockerPs.entries()) {
    same(ourPs[i], docker, `ps ${docker.Names}`, ['ID']);
    t.regex(ourPs[i].ID, /^[0-9a-f]{12}$/);
  }

  // docker system df -v --format '{{json .}}': one object, no newline after it.
  const [dockerLine] = recorded('03-two-containers-df.txt', "docker system df -v --format '{{json .}}'");
  const out = await s(['system', 'df', '-v', '--format', '{{json .}}']);
  t.false(out.stdout.endsWith('\n'));
  // The recording shows `[exit 0]` right after the object: docker wrote no newline.
  t.regex(dockerLine!, /\}\[exit 0\]$/);
  const docker = JSON.parse(dockerLine!.replace(/\[exit 0\]$/, ''));
  const ours = JSON.parse(out.stdout);
  t.deepEqual(Object.keys(ours), Object.keys(docker));
  t.is(docker.Images.length, 8);
  for (const image of docker.Images) {
    // lab/web-alias carries lab/web's tags here too; Docker listed it by its first tag.
    const mine = ours.Images.find(
      (i: { ID: string; Repository: string; Tag: string }) =>
        `${i.Repository}:${i.Tag}` === `${image.Repository}:${image.Tag}` ||
        (image.Repository === 'lab/web-alias' && i.Repository.startsWith('lab/web')),
    );
    t.truthy(mine, image.Repository);
    // Only lab/base and lab/features are Docker's very images; the rest are rebuilt with other IDs.
    const rebuilt = !['lab/base', 'lab/features'].includes(image.Repository);
    same(mine, image, `image ${image.Repository}`, rebuilt ? ['ID', 'Repository', 'Tag'] : []);
  }
  t.deepEqual(
    ours.Containers.map((c: { Names: string }) => c.Names),
    docker.Containers.map((c: { Names: string }) => c.Names),
  );
  for (const [i, container] of docker.Containers.entries()) {
    same(ours.Containers[i], container, `container ${container.Names}`, ['ID']);
    t.regex(ours.Containers[i].ID, /^[0-9a-f]{64}$/);
  }
  t.deepEqual(ours.Volumes, docker.Volumes);
  t.deepEqual(ours.BuildCache, docker.BuildCache);

  // docker ps --format '{{.Names}} {{.Image}} {{.Command}} {{.Status}}' (02-run-exec.txt), for myapp.
  const [runLine] = recorded('02-run-exec.txt', "docker ps --format '{{.Names}} {{.Image}} {{.Command}} {{.Status}}'");
  const myapp = (await s(['ps', '--format', '{{.Names}} {{.Image}} {{.Command}} {{.Status}}'])).stdout
    .split('\n')
    .find((l) => l.startsWith('myapp '));
  t.is(myapp!.replace(/ Up .*$/, ''), runLine!.replace(/ Up .*$/, ''));

  // docker history --no-trunc --format '{{.ID}}\t{{.CreatedBy}}\t{{.Size}}' lab/features:1.0 (01-load.txt): Docker's own image.
  t.is(
    (await s(['history', '--no-trunc', '--format', '{{.ID}}\\t{{.CreatedBy}}\\t{{.Size}}', 'lab/features:1.0'])).stdout,
    `${recorded('01-load.txt', "docker history --no-trunc --format '{{.ID}}\\t{{.CreatedBy}}\\t{{.Size}}' lab/features:1.0").join('\n')}\n`,
  );
});
