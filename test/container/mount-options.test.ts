import test from 'ava';
import os from 'node:os';
import { containerFromLayers } from '../helpers/container-fixture.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { parseTmpfsFlag, parseVolumeFlag } from '../../src/container/mount-spec.js';
import { parseTmpfsOptions } from '../../src/container/tmpfs-options.js';

const LAYERS: LayerInput[] = [[{ path: 'etc/' }, { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' }]];

test('-v takes the options docker takes: z, Z, cached, delegated, consistent, nocopy, with ro or rw', (t) => {
  for (const mode of ['z', 'Z', 'cached', 'delegated', 'consistent', 'nocopy', 'ro,z', 'rw,Z,nocopy,cached']) {
    const spec = parseVolumeFlag(`data:/data:${mode}`);
    t.deepEqual(
      spec,
      {
        type: 'volume',
        name: 'data',
        destination: '/data',
        readOnly: mode.startsWith('ro'),
        anonymous: false,
        mode,
        ...(mode.includes('nocopy') ? { noCopy: true } : {}),
      },
      mode,
    );
  }
  t.deepEqual(parseVolumeFlag('/srv/host:/data:ro,Z,rslave'), {
    type: 'bind',
    source: '/srv/host',
    destination: '/data',
    readOnly: true,
    mode: 'ro,Z,rslave',
  });
  t.deepEqual(parseVolumeFlag('data:/data'), { type: 'volume', name: 'data', destination: '/data', readOnly: false, anonymous: false });
});

test('-v refuses unknown options, two of a kind, nocopy on a bind, propagation on a volume and options on an anonymous volume', (t) => {
  const cases: [string, string][] = [
    ['data:/data:bogus', "invalid mode: bogus in volume specification 'data:/data:bogus'"],
    ['data:/data:ro,rw', "invalid mode: ro,rw in volume specification 'data:/data:ro,rw'"],
    ['data:/data:z,Z', "invalid mode: z,Z in volume specification 'data:/data:z,Z'"],
    ['/host:/data:nocopy', `invalid mount config for type "bind": field VolumeOptions must not be specified: '/host:/data:nocopy'`],
    ['data:/data:rshared', `invalid mount config for type "volume": field BindOptions must not be specified: 'data:/data:rshared'`],
    ['/data:nocopy', "invalid volume specification: '/data:nocopy'"],
  ];
  for (const [flag, message] of cases) t.throws(() => parseVolumeFlag(flag), { code: 'EUSAGE', message }, flag);
});

test('--tmpfs keeps its options as typed and refuses what a tmpfs mount would', (t) => {
  t.deepEqual(parseTmpfsFlag('/tmp:rw,size=64m,mode=1777'), { type: 'tmpfs', destination: '/tmp', options: 'rw,size=64m,mode=1777' });
  t.deepEqual(parseTmpfsFlag('/run:ro,noexec,nosuid,nodev,uid=1000,gid=1000'), {
    type: 'tmpfs',
    destination: '/run',
    options: 'ro,noexec,nosuid,nodev,uid=1000,gid=1000',
  });
  t.deepEqual(parseTmpfsFlag('/tmp'), { type: 'tmpfs', destination: '/tmp' });
  for (const [flag, option] of [
    ['/tmp:bogus', 'bogus'],
    ['/tmp:size=lots', 'size=lots'],
    ['/tmp:mode=0999', 'mode=0999'],
    ['/tmp:uid=root', 'uid=root'],
    ['/tmp:size', 'size'],
  ]) {
    t.throws(() => parseTmpfsFlag(flag!), { code: 'EUSAGE', message: `invalid tmpfs option "${option}" in '${flag}'` }, flag);
  }
});

test('tmpfs sizes are counted like the kernel counts them: suffixes, whole pages, 0 for none, a share of RAM', (t) => {
  t.is(parseTmpfsOptions('size=64m').sizeBytes, 64 * 1024 * 1024);
  t.is(parseTmpfsOptions('size=1G').sizeBytes, 1024 ** 3);
  t.is(parseTmpfsOptions('size=1').sizeBytes, 4096, 'rounded up to a page');
  t.is(parseTmpfsOptions('size=10k').sizeBytes, 12288);
  t.is(parseTmpfsOptions('nr_blocks=3').sizeBytes, 12288);
  t.is(parseTmpfsOptions('size=0').sizeBytes, null);
  t.is(parseTmpfsOptions('size=50%').sizeBytes, Math.ceil(Math.floor(os.totalmem() / 2) / 4096) * 4096);
  t.deepEqual(parseTmpfsOptions(''), { sizeBytes: null, mode: 0o1777, readOnly: false });
  t.deepEqual(parseTmpfsOptions('ro,mode=700'), { sizeBytes: null, mode: 0o700, readOnly: true });
  t.is(parseTmpfsOptions('ro,rw').readOnly, false, 'the last of ro and rw wins');
});

test('a tmpfs root has mode= (1777 by default) and ro makes it read-only in the view', async (t) => {
  const { view } = await containerFromLayers(t, 'oci', LAYERS, {
    mounts: [parseTmpfsFlag('/tmp'), parseTmpfsFlag('/private:mode=0750'), parseTmpfsFlag('/sealed:ro,noexec')],
  });
  t.is((await view.stat('/tmp')).mode, 0o1777);
  t.is((await view.stat('/private')).mode, 0o750);
  await view.writeFile('/private/ok', 'ok\n');
  await t.throwsAsync(view.writeFile('/sealed/x', 'x'), { code: 'EROFS' });
  await t.throwsAsync(view.mkdir('/sealed/d'), { code: 'EROFS' });
});

test('writing past a tmpfs size= fails with ENOSPC and keeps the whole pages that fit, as a kernel tmpfs does', async (t) => {
  const { view } = await containerFromLayers(t, 'oci', LAYERS, { mounts: [parseTmpfsFlag('/tmp:rw,size=64k,mode=1777')] });
  // A kernel tmpfs mounted with size=64k: `head -c 100000 /dev/zero > f` leaves 65536 bytes and ENOSPC.
  await t.throwsAsync(view.writeFile('/tmp/f', Buffer.alloc(100_000)), {
    code: 'ENOSPC',
    message: "ENOSPC: No space left on device, write '/tmp/f'",
  });
  t.is((await view.stat('/tmp/f')).size, 65_536);
  await t.throwsAsync(view.writeFile('/tmp/g', 'x'), { code: 'ENOSPC' });
  t.is((await view.stat('/tmp/g')).size, 0, 'the file is made; no page is left for its byte');
  t.is((await view.stat('/tmp/g')).mode, 0o644, 'with the mode it was made with');
  await view.mkdir('/tmp/dir');
  await view.writeFile('/tmp/f', Buffer.alloc(10_000));
  // Pages, not bytes: 10,000 bytes take 3 pages, so 13 pages (53,248 bytes) are left, and streams count too.
  await view.writeFile(
    '/tmp/dir/h',
    (async function* () {
      yield Buffer.alloc(53_248);
    })(),
  );
  await t.throwsAsync(view.appendFile('/tmp/dir/h', 'y'), { code: 'ENOSPC' });
  await view.appendFile('/tmp/f', Buffer.alloc(2_288));
  await t.throwsAsync(view.appendFile('/tmp/f', 'z'), { code: 'ENOSPC' });
  t.is((await view.stat('/tmp/f')).size, 12_288);
  await view.unlink('/tmp/dir/h');
  await view.writeFile('/tmp/g', Buffer.alloc(53_248));
  t.is((await view.stat('/tmp/g')).size, 53_248);
});
