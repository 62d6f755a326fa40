import fs from 'node:fs/promises';
import path from 'node:path';
import { strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import { readDockerRecord, type RecordedCommand } from '../helpers/docker-record.js';
import { testUnless } from '../helpers/skip.js';

// ../shared/conformance/docker/07-readonly.txt: what a --read-only container's tools
// printed in real Docker. The same changes through `strata fs` must fail with the
// same words (busybox's `sh: can't create` is strata's `write: can't create`).
const skip = sharedSkipReason();

function dockerError(record: RecordedCommand[], command: string): string {
  const found = record.find((c) => c.command.includes(command));
  if (!found) throw new Error(`no recorded command containing ${command}`);
  return found.output.find((l) => l.includes('Read-only file system'))!;
}

testUnless(skip)('a read-only container refuses every change with the words Docker printed', async (t) => {
  const record = readDockerRecord('07-readonly.txt');
  const { store, dir } = await tmpStore(t);
  await strata(store.root, ['load', '-q', '-i', path.join(conformanceImages, 'dk-features.docker.tar')]);
  const host = path.join(dir, 'host');
  await fs.mkdir(host);
  await fs.writeFile(path.join(host, 'h.txt'), 'from the host\n');
  t.is((await strata(store.root, ['create', '--name', 'ro', '--read-only', 'lab/features:1.0'])).code, 0);

  const cases: [string[], string, Buffer?][] = [
    [['fs', 'touch', 'ro', '/x'], dockerError(record, 'lab/features:1.0 touch /x')],
    [
      ['fs', 'write', 'ro', '/srv/data/modify.txt'],
      dockerError(record, 'echo hi > /srv/data/modify.txt').replace(/^sh:/, 'write:'),
      Buffer.from('hi\n'),
    ],
    [['fs', 'rm', 'ro', '/srv/data/keep.txt'], dockerError(record, 'rm /srv/data/keep.txt')],
    [['fs', 'mkdir', 'ro', '/newdir'], dockerError(record, 'mkdir /newdir')],
    [['fs', 'touch', 'ro', '/tmp/x'], dockerError(record, 'lab/features:1.0 touch /tmp/x')],
  ];
  for (const [args, expected, stdin] of cases) {
    const out = await strata(store.root, args, { stdin });
    t.is(out.code, 1, args.join(' '));
    t.is(out.stderr, `${expected}\n`, args.join(' '));
  }
  t.deepEqual(
    await fs.readdir(
      path.join(store.paths.containerDir((await strata(store.root, ['inspect', '--format', '{{.Id}}', 'ro'])).stdout.trim()), 'upper'),
    ),
    [],
  );

  // --tmpfs and volumes stay writable under --read-only; a :ro bind does not.
  await strata(store.root, ['create', '--name', 'rw-mounts', '--read-only', '--tmpfs', '/tmp', '-v', 'labvol:/data', 'lab/features:1.0']);
  t.is((await strata(store.root, ['fs', 'touch', 'rw-mounts', '/tmp/testfile'])).code, 0);
  t.is((await strata(store.root, ['fs', 'write', 'rw-mounts', '/data/v.txt'], { stdin: Buffer.from('persisted\n') })).code, 0);
  t.is((await strata(store.root, ['fs', 'cat', 'rw-mounts', '/data/v.txt'])).stdout, 'persisted\n');
  await strata(store.root, ['create', '--name', 'robind', '-v', `${host}:/data:ro`, 'lab/features:1.0']);
  t.is((await strata(store.root, ['fs', 'cat', 'robind', '/data/h.txt'])).stdout, 'from the host\n');
  const touch = await strata(store.root, ['fs', 'touch', 'robind', '/data/x']);
  t.is(touch.stderr, `${dockerError(record, 'touch /data/x')}\n`);
  const write = await strata(store.root, ['fs', 'write', 'robind', '/data/h.txt'], { stdin: Buffer.from('x\n') });
  t.is(write.stderr, `${dockerError(record, 'echo x > /data/h.txt').replace(/^sh:/, 'write:')}\n`);
  t.is(await fs.readFile(path.join(host, 'h.txt'), 'utf8'), 'from the host\n');
});
