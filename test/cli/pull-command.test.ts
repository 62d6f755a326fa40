import path from 'node:path';
import test from 'ava';
import { strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import { pushWithSkopeo, registrySkipReason, skopeoSkipReason, startRegistry } from '../helpers/registry.js';

const maybe = testUnless(firstReason(await registrySkipReason(), await skopeoSkipReason(), sharedSkipReason()));
const APP = path.join(conformanceImages, 'app.oci.tar');
const BASE = path.join(conformanceImages, 'base.oci.tar');
const APP_MANIFEST = 'sha256:716671e5fa6f33ad906b25818261dd3388535337f30b98d18a8daa1c23e6c834';

maybe('pull prints Docker’s lines: layers, Digest, Status and the reference; again, that it is up to date', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, APP, 'team/app:1.0');
  const { dir } = await tmpStore(t);
  const root = path.join(dir, 'store');
  const first = await strata(root, ['pull', `${registry.host}/team/app:1.0`]);
  t.deepEqual([first.code, first.stderr], [0, '']);
  const lines = first.stdout.split('\n');
  t.deepEqual(lines.slice(0, 3), ['1.0: Pulling from team/app', '569eefd614ca: Pulling fs layer', '52d0cb720b12: Pulling fs layer']);
  t.deepEqual(lines.slice(-4), [
    `Digest: ${APP_MANIFEST}`,
    `Status: Downloaded newer image for ${registry.host}/team/app:1.0`,
    `${registry.host}/team/app:1.0`,
    '',
  ]);
  // Docker's piped lines: every state without a bar; downloads end in any order, extraction in layer order.
  const layerLines = lines.slice(1, -4);
  const states = statesOf(layerLines);
  for (const id of ['569eefd614ca', '52d0cb720b12'])
    t.deepEqual(
      states.get(id)?.filter((state) => state !== 'Waiting'),
      ['Pulling fs layer', 'Verifying Checksum', 'Download complete', 'Pull complete'],
      `${id}: ${layerLines.join(' | ')}`,
    );
  t.deepEqual(
    layerLines.filter((line) => line.endsWith(': Pull complete')),
    ['569eefd614ca: Pull complete', '52d0cb720b12: Pull complete'],
  );
  const inspect = await strata(root, ['image', 'inspect', '--format', '{{json .RepoDigests}}', `${registry.host}/team/app:1.0`]);
  t.is(inspect.stdout, `["${registry.host}/team/app@${APP_MANIFEST}"]\n`);
  const again = await strata(root, ['image', 'pull', `${registry.host}/team/app:1.0`]);
  t.is(
    again.stdout,
    [
      '1.0: Pulling from team/app',
      `Digest: ${APP_MANIFEST}`,
      `Status: Image is up to date for ${registry.host}/team/app:1.0`,
      `${registry.host}/team/app:1.0`,
      '',
    ].join('\n'),
  );
});

maybe('pull -q prints only the reference; layers already stored say "Already exists"; no tag means latest', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, BASE, 'base:1.0');
  await pushWithSkopeo(registry, APP, 'app:latest');
  const { dir } = await tmpStore(t);
  const root = path.join(dir, 'store');
  t.deepEqual(await strata(root, ['pull', '-q', `${registry.host}/base:1.0`]), {
    code: 0,
    stdout: `${registry.host}/base:1.0\n`,
    stderr: '',
  });
  const app = await strata(root, ['pull', `${registry.host}/app`]);
  t.is(
    app.stdout,
    [
      'Using default tag: latest',
      'latest: Pulling from app',
      '569eefd614ca: Already exists',
      '52d0cb720b12: Pulling fs layer',
      '52d0cb720b12: Verifying Checksum',
      '52d0cb720b12: Download complete',
      '52d0cb720b12: Pull complete',
      `Digest: ${APP_MANIFEST}`,
      `Status: Downloaded newer image for ${registry.host}/app:latest`,
      `${registry.host}/app:latest`,
      '',
    ].join('\n'),
  );
});

maybe('a tag the registry lacks is one line in Docker’s words and exit 1', async (t) => {
  const registry = await startRegistry(t, 'open');
  const { dir } = await tmpStore(t);
  const result = await strata(path.join(dir, 'store'), ['pull', `${registry.host}/app:nope`]);
  t.deepEqual(result, {
    code: 1,
    stdout: '',
    stderr: `strata: manifest for ${registry.host}/app:nope not found: manifest unknown: manifest unknown\n`,
  });
});

test('a registry nobody listens on, or a bad flag value, is one line and exit 1 (a bad --platform before any request)', async (t) => {
  const { dir } = await tmpStore(t);
  const root = path.join(dir, 'store');
  t.deepEqual(await strata(root, ['pull', '-q', '127.0.0.1:1/x:1']), {
    code: 1,
    stdout: '',
    stderr: 'strata: 127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1\n',
  });
  t.deepEqual(await strata(root, ['pull', '--platform', 'linux', '127.0.0.1:1/x']), {
    code: 1,
    stdout: '',
    stderr: 'strata: invalid platform "linux" (want os/arch[/variant], e.g. linux/arm64)\n',
  });
  t.deepEqual(await strata(root, ['pull', '--max-concurrent-downloads', '0', '127.0.0.1:1/x']), {
    code: 1,
    stdout: '',
    stderr: 'strata: expected a positive whole number, got "0"\n',
  });
});

maybe('on a terminal each layer gets a bar that ends as "Pull complete"; the result lines follow', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, APP, 'app:1.0');
  const { dir } = await tmpStore(t);
  const result = await strata(path.join(dir, 'store'), ['pull', `${registry.host}/app:1.0`], { tty: true, columns: 120 });
  t.is(result.code, 0);
  t.regex(result.stdout, /^1\.0: Pulling from app\n/);
  t.regex(result.stdout, /569eefd614ca: Pull complete █+ 10\.6MB\/10\.6MB/);
  t.regex(result.stdout, /52d0cb720b12: Pull complete/);
  t.true(
    result.stdout.endsWith(
      `Digest: ${APP_MANIFEST}\nStatus: Downloaded newer image for ${registry.host}/app:1.0\n${registry.host}/app:1.0\n`,
    ),
  );
  // A terminal's layer lines are drawn in place (ending in escapes and \r), never as the piped `ID: State` lines.
  t.false(
    result.stdout
      .split('\n')
      .some((line) => /^[0-9a-f]{12}: (Pulling fs layer|Verifying Checksum|Download complete|Pull complete)$/.test(line)),
    'the piped lines are not printed on a terminal',
  );
});

/** Each layer's piped states in the order printed: `ID: State` lines grouped by ID. */
function statesOf(lines: string[]): Map<string, string[]> {
  const states = new Map<string, string[]>();
  for (const line of lines) {
    const [id, state] = line.split(': ') as [string, string];
    states.set(id, [...(states.get(id) ?? []), state]);
  }
  return states;
}
