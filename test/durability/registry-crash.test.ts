import fs from 'node:fs/promises';
import path from 'node:path';
import { openStore } from '../../src/store/root.js';
import { checkStore } from '../../src/check/check.js';
import { findImage } from '../../src/image/lookup.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import { pushWithSkopeo, registrySkipReason, skopeoSkipReason, startRegistry } from '../helpers/registry.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { assertRepairable, killAt, spreadKillPoints, traceOperation } from '../helpers/crash.js';
import { strataProcess } from '../helpers/cli.js';

const maybe = testUnless(firstReason(await registrySkipReason(), await skopeoSkipReason(), sharedSkipReason()));
const APP = path.join(conformanceImages, 'app.oci.tar');
const APP_CONFIG = 'sha256:81d880b7ac0bf6c777541ce5fef83005820d57f32858b068a6dad5ed80ca28f6';
const BIG = 'sha256:569eefd614caf0f5ed4ea1277c3f73aff587bc2770c5040b6bd3bf9b5b9440bc';
const BIG_SIZE = 10_571_274;

maybe.serial('SIGKILL anywhere in a pull: check reports only what --repair fixes, and the next pull completes, resuming', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, APP, 'app:1.0');
  const proxy = await startFaultProxy(t, registry.host);
  // About a second for the big layer, so timed kills land mid-download.
  proxy.throttle = 10 * 1024 * 1024;
  const ref = `${proxy.host}/app:1.0`;
  const { dir } = await tmpStore(t);
  const trace = await traceOperation(path.join(dir, 'trace'), ['pull', '-q', ref]);
  t.is(trace.code, 0, trace.stderr);
  let resumed = 0;
  for (const [i, point] of spreadKillPoints(trace, 8).entries()) {
    const root = path.join(dir, `kill-${i}`);
    const killed = await killAt(root, ['pull', '-q', ref], point);
    const where = `kill ${JSON.stringify(point)}`;
    const store = await openStore({ root });
    const unfixable = (await checkStore(store)).problems.filter((p) => !p.fix);
    t.deepEqual(
      unfixable.map((p) => p.message),
      [],
      `${where}: check reports what --repair cannot fix`,
    );
    const kept = await fs.stat(store.paths.pullSpool(BIG)).then(
      (s) => s.size,
      () => 0,
    );
    const from = proxy.log.length;
    const again = await strataProcess(root, ['pull', '-q', ref]);
    t.deepEqual([again.code, again.stderr], [0, ''], where);
    t.is((await findImage(store, APP_CONFIG)).id, APP_CONFIG);
    const gets = proxy.log.slice(from).filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${BIG}`));
    if (kept > 0 && killed.killed) {
      resumed++;
      // A spool the whole blob had reached (killed while the stage finished) is all read back: nothing is asked for.
      t.deepEqual(
        gets.map((r) => [r.range, r.bytes]),
        kept === BIG_SIZE ? [] : [[`bytes=${kept}-`, BIG_SIZE - kept]],
        `${where}: the next pull resumed`,
      );
    }
    await assertRepairable(t, root, where);
  }
  t.true(resumed > 0, 'at least one kill landed mid-download and was resumed');
});

maybe.serial('SIGKILL anywhere in a push: the store checks clean, and the next push completes with the same digest', async (t) => {
  const registry = await startRegistry(t, 'open');
  const proxy = await startFaultProxy(t, registry.host);
  proxy.throttle = 10 * 1024 * 1024;
  const { dir } = await tmpStore(t);
  const root = path.join(dir, 'store');
  t.is((await strataProcess(root, ['load', '-q', '-i', APP])).code, 0);
  const target = (i: number) => `${proxy.host}/pushed-${i}:1`;
  t.is((await strataProcess(root, ['tag', 'app:1.0', target(0)])).code, 0);
  const trace = await traceOperation(root, ['push', '-q', target(0)]);
  t.is(trace.code, 0, trace.stderr);
  for (const [i, point] of spreadKillPoints(trace, 6).entries()) {
    t.is((await strataProcess(root, ['tag', 'app:1.0', target(i + 1)])).code, 0);
    await killAt(root, ['push', '-q', target(i + 1)], point);
    const where = `kill ${JSON.stringify(point)}`;
    const again = await strataProcess(root, ['push', target(i + 1)]);
    t.deepEqual([again.code, again.stderr], [0, ''], where);
    t.regex(again.stdout, /\n1: digest: sha256:716671e5fa6f33ad906b25818261dd3388535337f30b98d18a8daa1c23e6c834 size: 504\n$/, where);
    await assertRepairable(t, root, where);
  }
});
