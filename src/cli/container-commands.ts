import { InvalidArgumentError, type Command } from 'commander';
import type { CliContext } from './context.js';
import type { CreateFlags } from './container-actions.js';
import type { ExecFlags, RunFlags, StartFlags } from './run-actions.js';
import { collectFilter } from './filters.js';

/** What the commands do (container-actions.ts) loads when one runs, not when they are defined. */
const actions = () => import('./container-actions.js');
const runActions = () => import('./run-actions.js');

export function registerContainerCommands(program: Command, ctx: CliContext): void {
  const container = program.command('container').description('Manage containers').enablePositionalOptions();
  for (const parent of [program, container]) {
    withCreateOptions(
      parent
        .command('create')
        .description('Create a new container')
        .argument('<image>', 'image name[:tag] or ID')
        .argument('[command...]', "the container's command and its arguments; options after IMAGE belong to it"),
    ).action(async (image: string, command: string[], opts: CreateFlags) => (await actions()).create(ctx, image, command, opts));
    withCreateOptions(
      parent
        .command('run')
        .description('Create and run a new container from an image (through runc; as root)')
        .argument('<image>', 'image name[:tag] or ID')
        .argument('[command...]', "the container's command and its arguments; options after IMAGE belong to it")
        .option('-d, --detach', 'run the container in the background and print its ID (output: `strata logs`)')
        .option('-i, --interactive', 'keep STDIN open and pass it to the container'),
    ).action(async (image: string, command: string[], opts: RunFlags) => (await runActions()).run(ctx, image, command, opts));
    parent
      .command('start')
      .description('Start one or more stopped containers (their processes through runc, where strata can run them: see README)')
      .argument('<container...>', 'containers, each by name or ID')
      .option('-a, --attach', "attach the container's output and wait for it; its exit status is strata's")
      .option('-i, --interactive', "attach strata's stdin to the container's")
      .action(async (names: string[], opts: StartFlags) => (await runActions()).start(ctx, names, opts));
    for (const [name, verb] of [
      ['stop', 'Stop one or more running containers (their stop signal, then SIGKILL after --time)'],
      ['restart', 'Restart one or more containers'],
    ] as const) {
      parent
        .command(name)
        .description(verb)
        .argument('<container...>', 'containers, each by name or ID')
        .option('-t, --time <seconds>', 'seconds to wait for the process to stop before killing it', toInt, 10)
        .action(async (names: string[], opts: { time: number }) => (await runActions()).stopOrRestart(ctx, name, names, opts.time));
    }
    parent
      .command('kill')
      .description("Kill one or more running containers' processes")
      .argument('<container...>', 'containers, each by name or ID')
      .option('-s, --signal <signal>', 'signal to send (a name like TERM or SIGTERM, or a number)', 'KILL')
      .action(async (names: string[], opts: { signal: string }) => (await runActions()).kill(ctx, names, opts.signal));
    parent
      .command('wait')
      .description('Block until one or more containers stop, then print their exit codes')
      .argument('<container...>', 'containers, each by name or ID')
      .action(async (names: string[]) => (await runActions()).wait(ctx, names));
    parent
      .command('logs')
      .description('Fetch the output of a container started with -d (or by start)')
      .argument('<container>', 'container name or ID')
      .option('-f, --follow', 'follow log output until the container stops')
      .action(async (name: string, opts: { follow?: boolean }) => (await runActions()).logs(ctx, name, opts));
    parent
      .command('exec')
      .description('Run a command in a running container (through runc exec)')
      .argument('<container>', 'container name or ID')
      .argument('<command...>', 'the command and its arguments; options after CONTAINER belong to it')
      .passThroughOptions()
      .option('-i, --interactive', 'keep STDIN open and pass it to the command')
      .option('-t, --tty', 'allocate a pseudo-TTY')
      .option('-e, --env <KEY=VALUE>', 'set an environment variable', collect, [])
      .option('-w, --workdir <dir>', 'working directory inside the container')
      .option('-u, --user <user>', 'username or UID (format: <name|uid>[:<group|gid>])')
      .action(async (name: string, command: string[], opts: ExecFlags) => (await runActions()).exec(ctx, name, command, opts));
    const rmCmd = parent === program ? parent.command('rm') : parent.command('rm').alias('remove');
    rmCmd
      .description('Remove one or more containers')
      .argument('<container...>', 'containers, each by name or ID')
      .option('-f, --force', 'force the removal of a running container')
      .option('-v, --volumes', 'remove anonymous volumes associated with the container')
      .action(async (names: string[], opts: { force?: boolean; volumes?: boolean }) => (await actions()).rm(ctx, names, opts));
    parent
      .command('diff')
      .description("Inspect changes to files or directories on a container's filesystem")
      .argument('<container>', 'container name or ID (a unique ID prefix will do)')
      .option('--format <format>', 'json for one {"Kind","Path"} object per line, or a Go template over .Kind and .Path')
      .action(async (name: string, opts: { format?: string }) => (await actions()).diff(ctx, name, opts));
    const psCmd = parent === program ? parent.command('ps') : parent.command('ls').alias('list');
    psCmd
      .description('List containers')
      .option('-a, --all', 'show all containers (default shows just running)')
      .option('-q, --quiet', 'only display container IDs')
      .option('--no-trunc', "don't truncate output")
      .option('-s, --size', 'display total file sizes (and, in json, copied-up and hidden bytes)')
      .option('--no-cache', 'with -s: walk every upper dir instead of trusting cached sizes (see `system df --help`)')
      .option('--format <format>', 'json, table, or a Go template')
      .option(
        '-f, --filter <filter>',
        'filter output based on conditions provided (name, id, status, ancestor, label, volume, before, since, exited; network, publish, expose, health, is-task and isolation as for a container without them)',
        collectFilter,
      )
      .option('-n, --last <n>', 'show n last created containers (includes all states)', toInt, -1)
      .option('-l, --latest', 'show the latest created container (includes all states)')
      .action(async (opts) => (await import('./ps-action.js')).ps(ctx, opts));
    parent
      .command('rename')
      .description('Rename a container')
      .argument('<container>', 'the container to rename: name, ID or unique ID prefix')
      .argument('<new-name>', 'its new name ([a-zA-Z0-9][a-zA-Z0-9_.-]+, not in use by another container)')
      .action(async (name: string, newName: string) => (await actions()).rename(ctx, name, newName));
  }
}

/** The flags `create` and `run` share, as Docker's. */
function withCreateOptions(command: Command): Command {
  return (
    command
      .passThroughOptions()
      .option('--name <name>', 'assign a name to the container')
      .option('--read-only', "mount the container's root filesystem as read only")
      .option('-t, --tty', 'allocate a pseudo-TTY')
      .option(
        '--tmpfs <path[:options]>',
        'mount a tmpfs directory (emptied on every stop); options as mount(8) takes them, e.g. ' +
          "rw,size=64m,mode=1777: size= is enforced (ENOSPC past it; no limit without it, where a kernel tmpfs stops at half of RAM), mode= is the root's (default 1777), " +
          'ro makes it read-only; noexec, nosuid, nodev, uid=, gid= and the other tmpfs options are kept and shown by inspect',
        collect,
        [],
      )
      .option(
        '-v, --volume <spec>',
        'bind mount a volume: NAME:/path, /host:/path, or /path, then :OPTIONS, comma-separated: ' +
          "ro or rw; nocopy (a new empty volume is not filled with the image's content at the path); z, Z (SELinux labels: " +
          'accepted and ignored, strata labels nothing), consistent, cached, delegated, and propagation modes for bind mounts (accepted, no effect)',
        collect,
        [],
      )
      .option(
        '--mount <mount>',
        'attach a mount: type=volume|bind|tmpfs,source=…,target=…[,readonly][,volume-nocopy][,tmpfs-size=…][,tmpfs-mode=…][,bind-propagation=…]',
        collect,
        [],
      )
      .option('-e, --env <KEY=VALUE>', "set an environment variable; a bare KEY takes its value from strata's environment", collect, [])
      .option('--env-file <file>', 'read environment variables from a file (KEY=VALUE lines, # comments)', collect, [])
      .option('--entrypoint <command>', 'overwrite the image\'s ENTRYPOINT ("" clears it)')
      .option('-w, --workdir <dir>', 'working directory inside the container (absolute)')
      .option('-u, --user <user>', 'username or UID (format: <name|uid>[:<group|gid>])')
      .option('-l, --label <KEY=VALUE>', 'set metadata on the container', collect, [])
      .option('--label-file <file>', 'read labels from a file (KEY=VALUE lines, # comments)', collect, [])
      .option('-h, --hostname <name>', 'container host name (default: the first 12 hex digits of its ID)')
      .option('--rm', 'remove the container when its process exits')
      .option('--network <mode>', 'none (a network namespace with loopback only; the default) or host')
      .option('--runtime <name>', 'the OCI runtime for this container: runc (the default, or $STRATA_RUNTIME) or crun')
      // -h is the host name, as in docker create.
      .helpOption('--help', 'display help for command')
  );
}

/**
 * pflag's IntVar: any whole number, negative too (`-n -1` is the default: no limit).
 * commander hands a short option's `-n=2` over with the `=`, so it is dropped here.
 */
function toInt(value: string): number {
  const text = value.startsWith('=') ? value.slice(1) : value;
  if (!/^[+-]?[0-9]+$/.test(text)) throw new InvalidArgumentError(`strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  return Number(text);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
