import { runSkipReason, runStore } from '../helpers/run-fixture.js';
import { testUnless } from '../helpers/skip.js';

const maybe = testUnless(await runSkipReason());

maybe('wait on a run -d --rm container gives its exit code, though the container is gone once it ends', async (t) => {
  const s = await runStore(t);
  const started = await s.cli(['run', '-d', '--rm', '--name', 'brief', 'bb:1', 'sh', '-c', 'sleep 1; exit 7']);
  t.is(started.code, 0, started.stderr);
  const waited = await s.cli(['wait', 'brief']);
  t.is(waited.stdout, '7\n');
  t.is(waited.code, 0);
  // Gone, as Docker removes it: a later wait has nothing to wait for.
  t.is((await s.cli(['ps', '-a', '-q'])).stdout, '');
  t.is((await s.cli(['wait', 'brief'])).code, 1);
});
