/**
 * File capabilities and other xattrs survive `export` and `cp CONTAINER:PATH -`:
 * written back as pax SCHILY.xattr records byte for byte, read by GNU tar, shown by
 * getcap. Never overlayfs' own markers, nor strata's own bookkeeping.
 */
import type { ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PassThrough } from 'node:stream';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { bothFormats } from '../helpers/both-formats.js';
import { parseTar, type RawEntry } from '../helpers/raw-tar.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { exportContainerToFile } from '../../src/container/export.js';
import { archiveFromView } from '../../src/container/copy.js';
import { UPPER_META_XATTR } from '../../src/resolver/upper-meta.js';
import type { Resolver } from '../../src/resolver/resolver.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { xattr } from '../../src/xattr.js';

const run = promisify(execFile);

const NOT_UTF8 = Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x0a, 0x3d, 0x80, 0x00]);

const LAYERS: LayerInput[] = [
  [
    { path: 'bin/' },
    { path: 'bin/ping', content: '#!ping\n', mode: 0o755 },
    { path: 'bin/arping', content: '#!arping\n', mode: 0o755 },
    { path: 'etc/' },
    { path: 'etc/old', content: 'old\n' },
  ],
  // An opaque directory: on an overlay-encoded store its diff dir carries trusted.overlay.opaque.
  [
    { path: 'etc', type: 'opaque' },
    { path: 'etc/new', content: 'new\n' },
  ],
];

async function missingTool(): Promise<string | null> {
  if (process.geteuid?.() !== 0) return 'needs root (setcap, and GNU tar restoring security.* xattrs)';
  for (const tool of ['setcap', 'getcap', 'tar']) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `needs ${tool}, which is not installed`;
    }
  }
  return null;
}

const missing = await missingTool();

/**
 * Registers one test per whiteout encoding; without root or the tools the test is
 * registered as skipped, with the reason in its title.
 */
function withCapabilities(title: string, body: (t: ExecutionContext, format: WhiteoutFormat) => Promise<void>): void {
  bothFormats(title, body, missing);
}

/**
 * A container whose lower layer has `cap_net_raw+ep` on /bin/arping and whose upper
 * has /bin/ping copied up with `cap_net_raw+ep`, a binary user.* value and strata's
 * own rootless-owner xattr.
 */
async function setup(t: ExecutionContext, format: WhiteoutFormat) {
  const fixture = await containerFromLayers(t, format, LAYERS);
  const { view } = fixture;
  await run('setcap', ['cap_net_raw+ep', await hostPath(view, '/bin/arping')]);
  await view.appendFile('/bin/ping', '# copied up\n');
  const upperPing = await hostPath(view, '/bin/ping');
  await run('setcap', ['cap_net_raw+ep', upperPing]);
  await xattr().setAttribute(upperPing, 'user.raw', NOT_UTF8);
  await xattr().setAttribute(upperPing, UPPER_META_XATTR, JSON.stringify({ uid: 0, gid: 0 }));
  return { ...fixture, capability: (await xattr().getAttribute(upperPing, 'security.capability'))! };
}

async function hostPath(view: Resolver, p: string): Promise<string> {
  return (await view.lstat(p)).hostPath!;
}

function byName(entries: RawEntry[], name: string): RawEntry {
  const entry = entries.find((e) => e.name === name);
  if (entry === undefined) throw new Error(`${name} is not in the archive: ${entries.map((e) => e.name).join(', ')}`);
  return entry;
}

withCapabilities('export writes file capabilities and binary xattrs back, and GNU tar restores them for getcap', async (t, format) => {
  const { store, record, dir, capability } = await setup(t, format);
  const tarFile = path.join(dir, 'export.tar');
  await exportContainerToFile(store, record, tarFile);

  const entries = parseTar(await fs.readFile(tarFile));
  const ping = byName(entries, 'bin/ping');
  t.deepEqual(
    [...ping.pax.entries()],
    [
      ['SCHILY.xattr.security.capability', capability],
      ['SCHILY.xattr.user.raw', NOT_UTF8],
    ],
  );
  t.deepEqual([...byName(entries, 'bin/arping').pax.entries()], [['SCHILY.xattr.security.capability', capability]]);
  // The opaque directory's marker is the store's encoding, not part of the file system.
  t.deepEqual([...byName(entries, 'etc/').pax.keys()], []);
  t.deepEqual(
    entries.filter((e) => e.pax.size > 0).map((e) => e.name),
    ['bin/arping', 'bin/ping'],
  );

  const into = path.join(dir, 'extracted');
  await fs.mkdir(into);
  await run('tar', ['--xattrs', '--xattrs-include=*', '-xpf', tarFile, '-C', into]);
  const { stdout } = await run('getcap', [path.join(into, 'bin/ping'), path.join(into, 'bin/arping')]);
  t.deepEqual(stdout.trim().split('\n').sort(), [
    `${path.join(into, 'bin/arping')} cap_net_raw=ep`,
    `${path.join(into, 'bin/ping')} cap_net_raw=ep`,
  ]);
  t.deepEqual(await xattr().getAttribute(path.join(into, 'bin/ping'), 'user.raw'), NOT_UTF8);
  t.is(await xattr().getAttribute(path.join(into, 'bin/ping'), UPPER_META_XATTR), null);
});

withCapabilities('cp CONTAINER:PATH - writes the same xattr records as export', async (t, format) => {
  const { view, capability } = await setup(t, format);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await archiveFromView(view, '/bin', out);
  const entries = parseTar(Buffer.concat(chunks));
  t.deepEqual(
    entries.map((e) => e.name),
    ['bin/', 'bin/arping', 'bin/ping'],
  );
  t.deepEqual(
    [...byName(entries, 'bin/ping').pax.entries()],
    [
      ['SCHILY.xattr.security.capability', capability],
      ['SCHILY.xattr.user.raw', NOT_UTF8],
    ],
  );
  t.deepEqual([...byName(entries, 'bin/arping').pax.entries()], [['SCHILY.xattr.security.capability', capability]]);
});
