import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { runSkipReason, runStore } from '../helpers/run-fixture.js';
import { firstReason, testUnless } from '../helpers/skip.js';

const run = promisify(execFile);
const noScript = await run('script', ['--version']).then(
  () => null,
  () => 'script(1) from util-linux gives a detached -t container its terminal',
);
const maybe = testUnless(firstReason(await runSkipReason(), noScript));

maybe("run -d -t gives the process a terminal: its log has the pty's \\r\\n, wait its exit code, inspect Config.Tty", async (t) => {
  const s = await runStore(t);
  const started = await s.cli(['run', '-d', '-t', '--name', 'term', 'bb:1', 'sh', '-c', '[ -t 1 ] && echo on-a-tty; echo done; exit 5']);
  t.is(started.stderr, '');
  t.is(started.code, 0);
  t.is((await s.cli(['wait', 'term'])).stdout, '5\n');
  // What Docker 20.10 logs for the same command on -dt: one stream, the terminal's line ends.
  t.is((await s.cli(['logs', 'term'])).stdout, 'on-a-tty\r\ndone\r\n');
  t.is((await s.cli(['inspect', '--format', '{{.Config.Tty}}', 'term'])).stdout, 'true\n');
  // A start keeps the terminal, as Docker's start of a -t container does.
  t.is((await s.cli(['start', 'term'])).code, 0);
  t.is((await s.cli(['wait', 'term'])).stdout, '5\n');
  t.is((await s.cli(['logs', 'term'])).stdout, 'on-a-tty\r\ndone\r\non-a-tty\r\ndone\r\n');
});

maybe('without -t the same detached process has no terminal and Config.Tty is false', async (t) => {
  const s = await runStore(t);
  t.is((await s.cli(['run', '-d', '--name', 'plain', 'bb:1', 'sh', '-c', '[ -t 1 ] || echo no-tty'])).code, 0);
  t.is((await s.cli(['wait', 'plain'])).stdout, '0\n');
  t.is((await s.cli(['logs', 'plain'])).stdout, 'no-tty\n');
  t.is((await s.cli(['inspect', '--format', '{{.Config.Tty}}', 'plain'])).stdout, 'false\n');
});
