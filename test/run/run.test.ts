import fs from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { runSkipReason, runStore, type RunStore } from '../helpers/run-fixture.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { runtimeFor } from '../../src/run/runtime.js';
import { findContainer } from '../../src/container/lookup.js';

const run = promisify(execFile);
const runReason = await runSkipReason();
const maybe = testUnless(runReason);
const noScript = await run('script', ['--version']).then(
  () => null,
  () => 'script(1) from util-linux is needed to give strata a terminal',
);

const APP_IMAGE = { User: 'app', WorkingDir: '/home/app' };

maybe('run prints what the image config says: the user from its /etc/passwd, its WorkingDir and Env', async (t) => {
  const s = await runStore(t, APP_IMAGE);
  const result = await s.cli(['run', '--name', 'app1', 'bb:1', 'sh', '-c', 'id; pwd; env | sort']);
  t.is(result.stderr, '');
  t.is(result.code, 0);
  const id = (await findContainer(s.store, 'app1')).id;
  t.is(
    result.stdout,
    [
      'uid=1000(app) gid=1000(app) groups=50(staff),1000(app)',
      '/home/app',
      'GREETING=hello world',
      'HOME=/home/app',
      `HOSTNAME=${id.slice(0, 12)}`,
      'PATH=/usr/local/bin:/bin',
      'PWD=/home/app',
      'SHLVL=1',
      '',
    ].join('\n'),
  );
});

maybe('-u, -w, -e and -h change what the process gets, as in Docker', async (t) => {
  const s = await runStore(t, APP_IMAGE);
  const result = await s.cli([
    'run',
    '--rm',
    '-u',
    '4242:77',
    '-w',
    '/etc',
    '-e',
    'GREETING=hi',
    '-h',
    'box',
    'bb:1',
    'sh',
    '-c',
    'id; pwd; hostname; echo $GREETING $HOME',
  ]);
  t.is(result.stdout, 'uid=4242 gid=77 groups=77\n/etc\nbox\nhi /\n');
  t.is(result.code, 0);
});

maybe("the process's exit status is strata's: 0, 3, 127 not found, 126 not executable, 125 strata's own", async (t) => {
  const s = await runStore(t);
  t.is((await s.cli(['run', '--rm', 'bb:1', 'true'])).code, 0);
  t.is((await s.cli(['run', '--rm', 'bb:1', 'sh', '-c', 'exit 3'])).code, 3);
  const missing = await s.cli(['run', '--rm', 'bb:1', 'nosuch']);
  t.is(missing.code, 127);
  t.is(missing.stderr, 'strata: failed to create task for container: exec: "nosuch": executable file not found in $PATH\n');
  const notExecutable = await s.cli(['run', '--rm', 'bb:1', '/etc/passwd']);
  t.is(notExecutable.code, 126);
  t.is(notExecutable.stderr, 'strata: failed to create task for container: exec: "/etc/passwd": permission denied\n');
  const ghost = await s.cli(['run', '--rm', '-u', 'ghost', 'bb:1', 'true']);
  t.is(ghost.code, 125);
  t.is(ghost.stderr, 'strata: unable to find user ghost: no matching entries in passwd file\n');
  t.is((await s.cli(['run', '--rm', '--network', 'bridge', 'bb:1', 'true'])).code, 125);
  // --rm took every one of them away, the failed starts too.
  t.is((await s.cli(['ps', '-aq'])).stdout, '');
});

maybe("run --read-only IMAGE touch /x prints the tool's own error", async (t) => {
  const s = await runStore(t);
  const result = await s.cli(['run', '--rm', '--read-only', 'bb:1', 'touch', '/x']);
  t.is(result.stderr, 'touch: /x: Read-only file system\n');
  t.is(result.code, 1);
});

maybe('--tmpfs /tmp is writable, mode 1777, and empty at every start', async (t) => {
  const s = await runStore(t);
  const script = 'ls -A /tmp; stat -c %A /tmp; echo x > /tmp/f; cat /tmp/f';
  const first = await s.cli(['run', '--name', 'tmp', '--tmpfs', '/tmp', 'bb:1', 'sh', '-c', script]);
  t.is(first.stdout, 'drwxrwxrwt\nx\n');
  const again = await s.cli(['start', '-a', 'tmp']);
  t.is(again.stdout, 'drwxrwxrwt\nx\n');
  t.is(again.code, 0);
});

maybe("a volume's data outlives its container and is seen by the next one", async (t) => {
  const s = await runStore(t);
  t.is((await s.cli(['run', '--rm', '-v', 'data:/data', 'bb:1', 'sh', '-c', 'echo kept > /data/f'])).code, 0);
  const next = await s.cli(['run', '--rm', '-v', 'data:/data:ro', 'bb:1', 'sh', '-c', 'cat /data/f; touch /data/g']);
  t.is(next.stdout, 'kept\n');
  t.is(next.stderr, 'touch: /data/g: Read-only file system\n');
});

maybe('after run IMAGE true nothing the runtime needed is in the upper: diff is empty and commit adds nothing', async (t) => {
  const s = await runStore(t);
  t.is((await s.cli(['run', '--name', 'idle', '--tmpfs', '/scratch', '-v', 'vol:/data/deep', 'bb:1', 'true'])).code, 0);
  t.is((await s.cli(['diff', 'idle'])).stdout, '');
  const record = await findContainer(s.store, 'idle');
  t.deepEqual(await fs.readdir(s.store.paths.container(record.id).upper), []);
  t.is((await s.cli(['commit', 'idle', 'idle:1'])).code, 0);
  const history = await s.cli(['history', '--format', '{{.Size}}', 'idle:1']);
  t.is(history.stdout.split('\n')[0], '0B');
});

maybe('diff after a run lists what the process changed, and only that', async (t) => {
  const s = await runStore(t, APP_IMAGE);
  const script = 'echo hi > /home/app/new; rm /etc/group; mkdir -p /var/cache';
  t.is((await s.cli(['run', '--name', 'writer', '-u', 'root', 'bb:1', 'sh', '-c', script])).code, 0);
  t.is((await s.cli(['diff', 'writer'])).stdout, 'C /etc\nD /etc/group\nC /home\nC /home/app\nA /home/app/new\nA /var\nA /var/cache\n');
});

maybe('a detached container logs its stdout and stderr; wait gives its exit code; ps shows the real state', async (t) => {
  const s = await runStore(t);
  const started = await s.cli(['run', '-d', '--name', 'bg', 'bb:1', 'sh', '-c', 'echo out; sleep 0.2; echo err >&2; sleep 4; exit 4']);
  t.is(started.code, 0);
  t.regex(started.stdout, /^[0-9a-f]{64}\n$/);
  t.regex((await s.cli(['ps', '--format', '{{.Status}}'])).stdout, /^Up (Less than a second|\d+ seconds?)\n$/);
  t.is((await s.cli(['wait', 'bg'])).stdout, '4\n');
  // runc copies stdout and stderr on two pipes: their order is kept only between writes apart in time, as with Docker.
  t.is((await s.cli(['logs', 'bg'])).stdout, 'out\nerr\n');
  t.regex((await s.cli(['ps', '-a', '--format', '{{.Status}}'])).stdout, /^Exited \(4\) /);
});

maybe('stop sends SIGTERM then SIGKILL after -t; kill -s and exec reach the running process', async (t) => {
  const s = await runStore(t, APP_IMAGE);
  t.is((await s.cli(['run', '-d', '--name', 'sleeper', 'bb:1', 'sleep', '100'])).code, 0);
  const exec = await s.cli(['exec', '-u', 'root', '-w', '/', '-e', 'A=1', 'sleeper', 'sh', '-c', 'id -u; pwd; echo $A; exit 5']);
  t.is(exec.stdout, '0\n/\n1\n');
  t.is(exec.code, 5);
  t.is((await s.cli(['exec', 'sleeper', 'id', '-un'])).stdout, 'app\n');
  t.is((await s.cli(['exec', 'sleeper', 'nosuch'])).code, 126);
  // sleep as PID 1 ignores SIGTERM: stop must kill it after its timeout.
  const before = Date.now();
  t.is((await s.cli(['stop', '-t', '1', 'sleeper'])).stdout, 'sleeper\n');
  t.true(Date.now() - before >= 1000);
  t.is((await s.cli(['wait', 'sleeper'])).stdout, '137\n');
  t.is((await s.cli(['exec', 'sleeper', 'true'])).code, 1);
  t.is((await s.cli(['start', 'sleeper'])).stdout, 'sleeper\n');
  t.is((await s.cli(['kill', '-s', 'TERM', 'sleeper'])).code, 0);
  t.is((await s.cli(['kill', 'sleeper'])).code, 0);
  t.is((await s.cli(['wait', 'sleeper'])).stdout, '137\n');
  const notRunning = await s.cli(['kill', 'sleeper']);
  t.is(notRunning.code, 1);
  t.regex(notRunning.stderr, /is not running/);
});

maybe('two containers of one image run at once on work dirs of their own', async (t) => {
  const s = await runStore(t);
  for (const name of ['one', 'two']) t.is((await s.cli(['run', '-d', '--name', name, 'bb:1', 'sleep', '100'])).code, 0);
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  const workDirs = await Promise.all(['one', 'two'].map(async (n) => s.store.paths.container((await findContainer(s.store, n)).id).work));
  t.not(workDirs[0], workDirs[1]);
  for (const work of workDirs) t.true(mountinfo.includes(`workdir=${work}`), `${work} is one mount's work dir`);
  t.is((await s.cli(['rm', '-f', 'one', 'two'])).code, 0);
  t.false((await fs.readFile('/proc/self/mountinfo', 'utf8')).includes(s.root), 'rm -f leaves no mount of the store');
});

maybe(
  "a --rm run mounts its root volatile (its unmount syncs no disk); a kept container's mounts as before, again after its run",
  async (t) => {
    const s = await runStore(t);
    // The container's root as its own mountinfo shows it: fields 4 and 5 are both `/`.
    const rootMount = "grep ' / / ' /proc/self/mountinfo";
    const removed = await s.cli(['run', '--rm', 'bb:1', 'sh', '-c', rootMount]);
    t.is(removed.code, 0, removed.stderr);
    t.regex(removed.stdout, / - overlay .*volatile/);
    const kept = await s.cli(['run', '--name', 'kept', 'bb:1', 'sh', '-c', rootMount]);
    t.is(kept.code, 0, kept.stderr);
    t.regex(kept.stdout, / - overlay /);
    t.notRegex(kept.stdout, /volatile/);
    const mounted = await s.cli(['mount', 'kept']);
    t.is(mounted.code, 0, mounted.stderr);
    t.is((await s.cli(['umount', 'kept'])).code, 0);
  },
);

maybe("no runtime state is left in strata's runc root after a run", async (t) => {
  const s = await runStore(t);
  t.is((await s.cli(['run', '--rm', 'bb:1', 'true'])).code, 0);
  t.is((await s.cli(['run', '-d', '--rm', 'bb:1', 'true'])).code, 0);
  t.is((await s.cli(['run', '--rm', 'bb:1', 'nosuch'])).code, 127);
  // The detached one may still be finishing.
  for (let i = 0; i < 100 && (await s.cli(['ps', '-aq'])).stdout !== ''; i++) await new Promise((r) => setTimeout(r, 50));
  t.is((await s.cli(['ps', '-aq'])).stdout, '');
  const { stdout } = await run('runc', ['--root', runtimeFor(s.store).stateRoot, 'list', '-q']);
  t.is(stdout, '');
  t.false((await fs.readFile('/proc/self/mountinfo', 'utf8')).includes(s.root), 'no mount of the store is left');
});

maybe('a signal to a foreground run reaches the container; Ctrl-C stops one whose PID 1 ignores it', async (t) => {
  const s = await runStore(t);
  const { spawn } = await import('node:child_process');
  const { repoRoot } = await import('../helpers/cli.js');
  const path = await import('node:path');
  const runInBackground = (name: string, script: string) => {
    const child = spawn(
      process.execPath,
      [path.join(repoRoot, 'bin', 'strata.js'), '--root', s.root, 'run', '--name', name, 'bb:1', 'sh', '-c', script],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, output: () => out };
  };
  // A PID 1 with a handler: the forwarded SIGUSR1 and SIGINT run it.
  const trapping = runInBackground('trapping', 'trap "echo usr1" USR1; trap "exit 130" INT; echo ready; while :; do sleep 0.1; done');
  while (!trapping.output().includes('ready')) await new Promise((r) => setTimeout(r, 20));
  trapping.child.kill('SIGUSR1');
  while (!trapping.output().includes('usr1')) await new Promise((r) => setTimeout(r, 20));
  trapping.child.kill('SIGINT');
  t.is(await trapping.exited, 130);
  // sleep as PID 1 has no handler, so the kernel drops SIGINT for it: strata kills it after its grace.
  const ignoring = runInBackground('ignoring', 'echo ready; exec sleep 50');
  while (!ignoring.output().includes('ready')) await new Promise((r) => setTimeout(r, 20));
  // "ready" comes from sh, which catches SIGINT (sh -c does) until it has exec'd sleep: wait for the exec.
  await waitForCommand(s, 'ignoring', 'sleep');
  ignoring.child.kill('SIGINT');
  t.is(await ignoring.exited, 137);
  t.regex((await s.cli(['ps', '-a', '--filter', 'name=ignoring', '--format', '{{.Status}}'])).stdout, /^Exited \(137\) /);
});

testUnless(firstReason(runReason, noScript))(
  'run -it and exec -it give the process a terminal of its own (runc makes the pty in the foreground)',
  async (t) => {
    const s = await runStore(t);
    const { repoRoot } = await import('../helpers/cli.js');
    const path = await import('node:path');
    const command = `${process.execPath} ${path.join(repoRoot, 'bin', 'strata.js')} --root ${s.root} run --rm -it bb:1 sh -c 'tty; echo $TERM; exit 7'`;
    const result = await run('script', ['-qec', command, '/dev/null']).catch((err: { code: number; stdout: string }) => err);
    t.is((result as { code?: number }).code, 7);
    t.regex(result.stdout, /\/dev\/pts\/0\r\nxterm\r\n/);
    // exec -it too: runc exec in the foreground serves the pty the same way.
    t.is((await s.cli(['run', '-d', '--name', 'host', 'bb:1', 'sleep', '30'])).code, 0);
    const exec = `${process.execPath} ${path.join(repoRoot, 'bin', 'strata.js')} --root ${s.root} exec -it host sh -c 'tty; exit 3'`;
    const execResult = await run('script', ['-qec', exec, '/dev/null']).catch((err: { code: number; stdout: string }) => err);
    t.is((execResult as { code?: number }).code, 3);
    // Sometimes \r\r\n: runc exec clears the pty's ONLCR only once the process runs (test/run/exec-tty.test.ts).
    t.regex(execResult.stdout, /\/dev\/pts\/0\r\r?\n/);
  },
);

maybe('-i passes stdin through; without it the process reads nothing', async (t) => {
  const s = await runStore(t);
  t.is((await s.cli(['run', '--rm', '-i', 'bb:1', 'tr', 'a-z', 'A-Z'], { stdin: Buffer.from('hello\n') })).stdout, 'HELLO\n');
  t.is((await s.cli(['run', '--rm', 'bb:1', 'wc', '-c'], { stdin: Buffer.from('hello\n') })).stdout.trim(), '0');
});

maybe('a bind mount shows the host directory; --network none has loopback only, host the host interfaces', async (t) => {
  const s = await runStore(t);
  const host = `${s.dir}/shared`;
  await fs.mkdir(host);
  await fs.writeFile(`${host}/from-host`, 'hi\n');
  const bind = await s.cli([
    'run',
    '--rm',
    '-v',
    `${host}:/mnt`,
    'bb:1',
    'sh',
    '-c',
    'cat /mnt/from-host; echo back > /mnt/from-container',
  ]);
  t.is(bind.stdout, 'hi\n');
  t.is(await fs.readFile(`${host}/from-container`, 'utf8'), 'back\n');
  const none = await s.cli(['run', '--rm', 'bb:1', 'sh', '-c', 'ls /sys/class/net']);
  t.is(none.stdout, 'lo\n');
  const hostNet = await s.cli(['run', '--rm', '--network', 'host', 'bb:1', 'sh', '-c', 'ls /sys/class/net']);
  const own = (await fs.readdir('/sys/class/net')).sort();
  t.deepEqual(
    hostNet.stdout
      .split('\n')
      .filter((l) => l !== '')
      .sort(),
    own,
  );
});

maybe(
  'a container whose monitor was SIGKILLed is killed and cleaned up by the next stop: no process, mount or runtime state left',
  async (t) => {
    const s = await runStore(t);
    const { record, runtime } = await orphanedContainer(t, s, 'orphan');
    t.is((await s.cli(['stop', 'orphan'])).code, 0);
    t.is((await run('runc', ['--root', runtime.stateRoot, 'list', '-q'])).stdout, '');
    t.false((await fs.readFile('/proc/self/mountinfo', 'utf8')).includes(record.id), 'its mount is gone');
    t.regex((await s.cli(['ps', '-a', '--format', '{{.Status}}'])).stdout, /^Exited \(137\) /);
    t.deepEqual(await fs.readdir(s.store.paths.container(record.id).upper), []);
    t.is((await s.cli(['run', '--rm', 'bb:1', 'true'])).code, 0, 'the store runs containers as before');
  },
);

maybe('a store that keeps whiteouts as .wh. files cannot run containers, and run says why before creating one', async (t) => {
  const { tmpStore } = await import('../helpers/tmp-store.js');
  const { strata } = await import('../helpers/cli.js');
  const { store } = await tmpStore(t, { whiteoutFormat: 'oci' });
  const result = await strata(store.root, ['run', '--rm', 'bb:1', 'true']);
  t.is(result.code, 125);
  t.is(
    result.stderr,
    `strata: the store at ${store.root} keeps whiteouts as .wh. files, which the kernel's overlayfs does not read: containers run only from a store in the overlay encoding\n`,
  );
  t.is((await strata(store.root, ['ps', '-aq'])).stdout, '');
});

maybe("inspect shows a running container's host PID in State.Pid, as Docker does, and 0 once it has stopped", async (t) => {
  const s = await runStore(t);
  t.is((await s.cli(['run', '-d', '--name', 'sleeper', 'bb:1', 'sleep', '100'])).code, 0);
  const pid = Number((await s.cli(['inspect', '-f', '{{.State.Pid}}', 'sleeper'])).stdout);
  t.true(pid > 1, `State.Pid is ${pid}`);
  // It is the container's first process: sleep, in a PID namespace of its own, seeing the image's root.
  t.is(await fs.readFile(`/proc/${pid}/comm`, 'utf8'), 'sleep\n');
  t.not(await fs.readlink(`/proc/${pid}/ns/pid`), await fs.readlink('/proc/self/ns/pid'));
  t.true((await fs.stat(`/proc/${pid}/root/bin/busybox`)).isFile());
  t.is((await s.cli(['stop', '-t', '0', 'sleeper'])).code, 0);
  t.is((await s.cli(['inspect', '-f', '{{.State.Running}} {{.State.Pid}}', 'sleeper'])).stdout, 'false 0\n');
});

maybe(
  'ps and inspect of a container whose monitor was SIGKILLed show it Exited (137), as Docker after a dead shim: its process is killed, nothing left',
  async (t) => {
    const s = await runStore(t);
    t.is((await s.cli(['run', '-d', '--name', 'kept', 'bb:1', 'sleep', '100'])).code, 0);
    const { record, runtime } = await orphanedContainer(t, s, 'orphan');
    t.regex((await s.cli(['ps', '-a', '--filter', 'name=orphan', '--format', '{{.Status}}'])).stdout, /^Exited \(137\) /);
    t.regex(
      (await s.cli(['ps', '--filter', 'name=kept', '--format', '{{.Status}}'])).stdout,
      /^Up /,
      'a supervised container is untouched',
    );
    t.is((await run('runc', ['--root', runtime.stateRoot, 'list', '-q'])).stdout.includes(record.id), false, 'runc no longer runs it');
    t.false((await fs.readFile('/proc/self/mountinfo', 'utf8')).includes(record.id), 'its mount is gone');
    t.is((await s.cli(['check'])).code, 0);

    t.is((await s.cli(['run', '-d', '--name', 'inspected', 'bb:1', 'sleep', '100'])).code, 0);
    const other = await findContainer(s.store, 'inspected');
    process.kill(other.state.supervisor!.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    t.is((await s.cli(['inspect', '-f', '{{.State.Running}} {{.State.ExitCode}}', 'inspected'])).stdout, 'false 137\n');
    t.false((await run('runc', ['--root', runtime.stateRoot, 'list', '-q'])).stdout.includes(other.id), 'runc no longer runs it');
  },
);

/** Waits until the named container's PID 1, as `inspect` reports it in State.Pid, runs `command`. */
async function waitForCommand(s: RunStore, name: string, command: string) {
  for (;;) {
    const pid = Number((await s.cli(['inspect', '-f', '{{.State.Pid}}', name])).stdout);
    const comm = pid > 0 ? await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '') : '';
    if (comm === `${command}\n`) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A detached container whose monitor was SIGKILLed: its process runs on under runc, unsupervised. */
async function orphanedContainer(t: ExecutionContext, s: RunStore, name: string) {
  t.is((await s.cli(['run', '-d', '--name', name, 'bb:1', 'sleep', '100'])).code, 0);
  const record = await findContainer(s.store, name);
  process.kill(record.state.supervisor!.pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 100));
  const runtime = runtimeFor(s.store);
  t.regex(
    (await run('runc', ['--root', runtime.stateRoot, 'list', '-q'])).stdout,
    new RegExp(record.id),
    'the process outlives its monitor',
  );
  return { record, runtime };
}
