import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { runSkipReason, runStore, type RunStore } from '../helpers/run-fixture.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { commandSkipReason } from '../helpers/tools.js';
import { runtimeFor } from '../../src/run/runtime.js';
import { findContainer } from '../../src/container/lookup.js';

/**
 * `--runtime crun`: the same containers as under runc, each later command driving the
 * runtime the container was created with, in a state root of its own.
 */

const exec = promisify(execFile);
const runReason = await runSkipReason();
const crunReason = firstReason(
  runReason,
  await commandSkipReason('crun', ['--version'], 'crun is not installed (Debian package crun; .ci/run installs it)'),
  await hybridCgroupsReason(),
);
const maybe = testUnless(runReason);
const withCrun = testUnless(crunReason);

/**
 * crun 1.8 refuses every container on a machine with cgroup v1 and v2 mounted side by
 * side (systemd's hybrid layout) when v2 holds any controller: it checks
 * /sys/fs/cgroup/unified/cgroup.controllers as here, and runc has no such rule.
 */
async function hybridCgroupsReason(): Promise<string | null> {
  const controllers = await fs.readFile('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').catch(() => '');
  return controllers.trim() === ''
    ? null
    : `crun refuses this machine's hybrid cgroups (v2 holds ${controllers.trim()}): "cgroups in hybrid mode not supported"`;
}

async function crunList(s: RunStore): Promise<string> {
  return (await exec('crun', ['--root', runtimeFor(s.store, 'crun').stateRoot, 'list', '-q'])).stdout;
}

withCrun('run --runtime crun prints what runc prints (id, pwd, env), with the same exit codes, and --rm leaves nothing', async (t) => {
  const s = await runStore(t, { User: 'app', WorkingDir: '/home/app' });
  const script = ['sh', '-c', 'id; pwd; env | sort'];
  const byRunc = await s.cli(['run', '--rm', '-h', 'box', 'bb:1', ...script]);
  const byCrun = await s.cli(['run', '--rm', '-h', 'box', '--runtime', 'crun', 'bb:1', ...script]);
  t.is(byCrun.stderr, '');
  t.is(byCrun.code, 0);
  t.is(byCrun.stdout, byRunc.stdout);
  t.regex(byCrun.stdout, /^uid=1000\(app\) gid=1000\(app\) groups=50\(staff\),1000\(app\)\n\/home\/app\n/);
  t.is((await s.cli(['run', '--rm', '--runtime', 'crun', 'bb:1', 'sh', '-c', 'exit 3'])).code, 3);
  const missing = await s.cli(['run', '--rm', '--runtime', 'crun', 'bb:1', 'nosuch']);
  t.is(missing.code, 127);
  t.is(missing.stderr, 'strata: failed to create task for container: exec: "nosuch": executable file not found in $PATH\n');
  t.is((await s.cli(['ps', '-aq'])).stdout, '');
  t.is(await crunList(s), '');
  t.false((await fs.readFile('/proc/self/mountinfo', 'utf8')).includes(s.root), 'no mount of the store is left');
});

withCrun(
  'a detached crun container: exec, inspect shows HostConfig.Runtime and State.Pid, stop, wait, logs, start and rm -f',
  async (t) => {
    const s = await runStore(t);
    const started = await s.cli([
      'run',
      '-d',
      '--name',
      'bg',
      '--runtime',
      'crun',
      'bb:1',
      'sh',
      '-c',
      'trap "exit 5" TERM; echo out; sleep 1000 & wait',
    ]);
    t.is(started.code, 0, started.stderr);
    t.is((await s.cli(['create', '--name', 'plain', 'bb:1'])).code, 0);
    t.is((await s.cli(['inspect', '-f', '{{.HostConfig.Runtime}}', 'bg', 'plain'])).stdout, 'crun\nrunc\n');
    const id = (await findContainer(s.store, 'bg')).id;
    t.is(await crunList(s), `${id}\n`, "crun's own state root holds it");
    const pid = Number((await s.cli(['inspect', '-f', '{{.State.Pid}}', 'bg'])).stdout);
    t.is(await fs.readFile(`/proc/${pid}/comm`, 'utf8'), 'sh\n', "State.Pid is crun's container process");
    const inside = await s.cli(['exec', '-w', '/etc', 'bg', 'sh', '-c', 'pwd; exit 4']);
    t.is(inside.stdout, '/etc\n');
    t.is(inside.code, 4);
    t.is((await s.cli(['stop', 'bg'])).code, 0);
    t.is((await s.cli(['wait', 'bg'])).stdout, '5\n');
    t.is((await s.cli(['logs', 'bg'])).stdout, 'out\n');
    t.is((await s.cli(['start', 'bg'])).code, 0);
    t.is((await s.cli(['rm', '-f', 'bg'])).stdout, 'bg\n');
    t.is(await crunList(s), '');
    t.false((await fs.readFile('/proc/self/mountinfo', 'utf8')).includes(id), 'its mount is gone');
  },
);

withCrun('check --repair finishes a crun container whose monitor was SIGKILLed: process killed, crun state and mount gone', async (t) => {
  const s = await runStore(t);
  t.is((await s.cli(['run', '-d', '--name', 'orphan', '--runtime', 'crun', 'bb:1', 'sleep', '100'])).code, 0);
  const record = await findContainer(s.store, 'orphan');
  process.kill(record.state.supervisor!.pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 100));
  t.is(await crunList(s), `${record.id}\n`, 'the process outlives its monitor');
  t.not((await s.cli(['check'])).code, 0);
  const repaired = await s.cli(['check', '--repair']);
  t.is(repaired.code, 0, repaired.stdout);
  t.is(await crunList(s), '');
  t.false((await fs.readFile('/proc/self/mountinfo', 'utf8')).includes(record.id), 'its mount is gone');
  t.regex((await s.cli(['ps', '-a', '--format', '{{.Status}}'])).stdout, /^Exited \(137\) /);
});

maybe('an unknown --runtime or $STRATA_RUNTIME, or a runtime not on PATH, is refused with 125 and nothing is made', async (t) => {
  const s = await runStore(t);
  const unknown = 'strata: unknown or invalid runtime name: kata (strata runs runc or crun)\n';
  for (const verb of ['create', 'run']) {
    const result = await s.cli([verb, '--runtime', 'kata', 'bb:1', 'true']);
    t.is(result.stderr, unknown);
    t.is(result.code, 125);
  }
  const fromEnvironment = await s.cli(['run', 'bb:1', 'true'], { env: { STRATA_RUNTIME: 'kata' } });
  t.is(fromEnvironment.stderr, `strata: STRATA_RUNTIME: ${unknown.slice('strata: '.length)}`);
  t.is(fromEnvironment.code, 125);
  const empty = path.join(s.dir, 'empty-path');
  await fs.mkdir(empty);
  const notInstalled = await s.cli(['run', '--runtime', 'crun', 'bb:1', 'true'], { env: { PATH: empty } });
  t.is(notInstalled.stderr, 'strata: crun: the OCI runtime is not installed (Debian package crun)\n');
  t.is(notInstalled.code, 125);
  t.is((await s.cli(['ps', '-aq'])).stdout, '');
});
