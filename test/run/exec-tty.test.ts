import { runSkipReason, runStore } from '../helpers/run-fixture.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { commandSkipReason } from '../helpers/tools.js';

/**
 * `exec -t` without a terminal on strata's side, as from a script or CI: Docker gives
 * the process a terminal all the same (its output then has the pty's \r\n), and
 * refuses `-it` when stdin is not a terminal to read the user's keys from.
 */

const maybe = testUnless(
  firstReason(
    await runSkipReason(),
    await commandSkipReason('script', ['--version'], 'script(1) from util-linux is needed to give runc a terminal'),
  ),
);

maybe(
  'exec -t with piped output runs the process on a terminal; exec -it and run -it with piped stdin are refused as Docker refuses them',
  async (t) => {
    const s = await runStore(t);
    t.is((await s.cli(['run', '-d', '--name', 'host', 'bb:1', 'sleep', '30'])).code, 0);
    const onTerminal = await s.cli(['exec', '-t', 'host', 'sh', '-c', 'tty; echo $TERM; exit 3']);
    t.is(onTerminal.stderr, '');
    // The pty's \r\n; sometimes \r\r\n: runc exec clears the container pty's ONLCR and makes script's pty raw while
    // the process already runs, so its first lines may pass both translations (runc run does both before the start).
    t.regex(onTerminal.stdout, /^\/dev\/pts\/0\r\r?\nxterm\r\r?\n$/);
    t.is(onTerminal.code, 3);
    const interactive = await s.cli(['exec', '-it', 'host', 'true'], { stdin: Buffer.from('typed\n') });
    t.is(interactive.stderr, 'strata: the input device is not a TTY\n');
    t.is(interactive.code, 1);
    // run -it checks the same before anything is made: exit 1 (docker/cli's check), not run's 125, and no container.
    const before = (await s.cli(['ps', '-a', '-q'])).stdout;
    t.deepEqual(await s.cli(['run', '-it', '--name', 'typed', 'bb:1', 'true'], { stdin: Buffer.from('typed\n') }), {
      code: 1,
      signal: null,
      stdout: '',
      stderr: 'strata: the input device is not a TTY\n',
    });
    t.is((await s.cli(['ps', '-a', '-q'])).stdout, before);
    // Without -t nothing changes: the process's output is its own, without a terminal's \r.
    t.is((await s.cli(['exec', 'host', 'sh', '-c', 'tty; exit 0'])).stdout, 'not a tty\n');
  },
);
