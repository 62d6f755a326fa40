import path from 'node:path';
import { Command, CommanderError, Help, type Option } from 'commander';
import { isStrataError, isFsError, FS_ERROR_TEXT } from '../errors.js';
import { CliContext, type CliIO, type GlobalOptions } from './context.js';
import { registerImageCommands } from './image-commands.js';
import { registerCheckCommand } from './check-command.js';
import { registerContainerCommands } from './container-commands.js';
import { registerInspectCommand } from './inspect-command.js';
import { registerVolumeCommands } from './volume-commands.js';
import { registerUsageCommands } from './usage-commands.js';
import { registerGcCommands } from './gc-commands.js';
import { registerFsCommands } from './fs-commands.js';
import { ToolError } from './tool-error.js';
import { strataVersion, versionText } from './version.js';
import { registerCopyCommands } from './copy-commands.js';
import { registerInfoCommand } from './info-command.js';
import { registerImportCommand } from './import-command.js';
import { registerSaveCommand } from './save-command.js';
import { registerCommitCommand } from './commit-command.js';
import { registerReportCommand } from './report-command.js';
import { registerPullCommand } from './pull-command.js';
import { registerPushCommand } from './push-command.js';
import { registerLoginCommands } from './login-command.js';
import { registerMountCommands } from './mount-command.js';
import { FLAG_ERROR_EXIT, trackParsedCommand, usageErrorReport } from './usage-errors.js';

/**
 * The one error boundary and the only place exit codes are decided. Commands
 * throw typed errors and never exit, so every command can be run in-process.
 */
export const EXIT = { ok: 0, failure: 1, sigint: 130, sigterm: 143 } as const;

/** docker create (and run) report every failure of their own with 125, not 1: `create` or `container create`, not `volume create`. */
function exitsWith125(command: Command): boolean {
  return ['create', 'run'].includes(command.name()) && (command.parent?.parent === null || command.parent?.name() === 'container');
}

/** docker/cli's own checks, made before it asks the daemon, fail with 1 even for run and create: a name that is no reference, -it without a terminal. */
function isClientCheck(err: unknown): boolean {
  return isStrataError(err, 'EREFERENCE') || isStrataError(err, 'ENOTTY');
}

/** Adds commands to the program; what they do is imported when one runs. */
type RegisterCommands = (program: Command, ctx: CliContext) => void;

/**
 * Every register function with the top-level names it defines, in `strata --help` order.
 * A call builds only the entries that define its command (see entriesFor): building all
 * ~80 commands with their ~190 options was the largest part of what commander added to
 * a start-up. A group that several files add to (`image`, `container`, `system`) is
 * listed in each of them.
 */
const COMMANDS: readonly { names: readonly string[]; register: RegisterCommands }[] = [
  { names: ['image', 'load', 'images', 'history', 'tag', 'rmi'], register: registerImageCommands },
  { names: ['image', 'save'], register: registerSaveCommand },
  { names: ['image', 'pull'], register: registerPullCommand },
  { names: ['image', 'push'], register: registerPushCommand },
  { names: ['login', 'logout'], register: registerLoginCommands },
  {
    names: ['container', 'create', 'run', 'start', 'stop', 'restart', 'kill', 'wait', 'logs', 'exec', 'rm', 'diff', 'ps', 'rename'],
    register: registerContainerCommands,
  },
  { names: ['volume'], register: registerVolumeCommands },
  { names: ['fs'], register: registerFsCommands },
  { names: ['container', 'cp', 'export'], register: registerCopyCommands },
  { names: ['container', 'inspect'], register: registerInspectCommand },
  { names: ['system', 'du'], register: registerUsageCommands },
  { names: ['report'], register: registerReportCommand },
  { names: ['system', 'info'], register: registerInfoCommand },
  { names: ['image', 'import'], register: registerImportCommand },
  { names: ['container', 'commit'], register: registerCommitCommand },
  { names: ['container', 'mount', 'umount'], register: registerMountCommands },
  { names: ['image', 'container', 'system', 'gc'], register: registerGcCommands },
  { names: ['check'], register: registerCheckCommand },
  { names: ['version'], register: registerVersionCommand },
];

/**
 * The command tree, wired to `io`: main() parses with it, tests walk it. Given the
 * command line, only the part that can parse it; without, all of it.
 */
export function createProgram(io: CliIO, argv?: readonly string[]): Command {
  const program = new Command('strata');
  const ctx = new CliContext(io, () => program.opts<GlobalOptions>());
  program
    .description('A daemonless container layer store: images, layers and containers on an ordinary directory.')
    .option('--root <dir>', 'store location (default: $STRATA_ROOT, /var/lib/strata for root, else ~/.local/share/strata)')
    .option('--debug', 'print stack traces for errors')
    .option('--version', 'print the version and exit')
    // As docker: global options come before the command, and `create IMAGE sh -c …`
    // hands `-c` to the container's command (create and run pass options through).
    .enablePositionalOptions()
    .exitOverride()
    // A repeatable flag (-c, -e, --insecure-registry) starts from []: Docker shows no default for those, nor does strata.
    .configureHelp({
      optionDescription(this: Help, option: Option) {
        const empty = Array.isArray(option.defaultValue) && option.defaultValue.length === 0;
        return Help.prototype.optionDescription.call(this, empty ? Object.create(option, { defaultValue: { value: undefined } }) : option);
      },
    })
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Parse errors are printed by report(), in Docker's words.
      outputError: () => {},
    });
  for (const { register } of argv === undefined ? COMMANDS : entriesFor(argv)) register(program, ctx);
  // As `docker --version`: one line, whatever else was typed (commander's own .version() would read package.json at every start).
  program.on('option:version', () => {
    const line = `strata version ${strataVersion()}\n`;
    io.stdout.write(line);
    throw new CommanderError(0, 'commander.version', line);
  });
  return program;
}

function registerVersionCommand(program: Command, ctx: CliContext): void {
  program
    .command('version')
    .description('Show the strata version information')
    .action(() => ctx.print(versionText()));
}

/**
 * The entries a command line needs: those that define its command, or none for
 * `--version` (it prints and exits as commander reads it). All of them when the whole
 * list may be printed or searched: no command, `help`, `--help`, a name strata does
 * not know (commander's error suggests a similar one), or an option before the command
 * that is not a global one.
 */
function entriesFor(argv: readonly string[]): typeof COMMANDS {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--version') return [];
    if (arg === '--root') i++;
    else if (!(arg.startsWith('--root=') || arg === '--debug')) {
      const entries = arg.startsWith('-') ? [] : COMMANDS.filter((entry) => entry.names.includes(arg));
      return entries.length > 0 ? entries : COMMANDS;
    }
  }
  return COMMANDS;
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const program = createProgram(io, argv);
  const parsedCommand = trackParsedCommand(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    // A container's own exit status (`run`), passed on as it is.
    if (err instanceof ExitStatus) return err.code;
    // `strata` or `strata image` alone print their help, as docker does, and that is no error.
    if (err instanceof CommanderError && err.exitCode !== 0 && err.code !== 'commander.help') {
      const usage = usageErrorReport(err, parsedCommand());
      for (const line of usage.lines) io.stderr.write(`${line}\n`);
      return usage.exitCode;
    }
    const code = await report(err, io, program.opts<GlobalOptions>());
    return code === EXIT.failure && exitsWith125(parsedCommand()) && !isClientCheck(err) ? FLAG_ERROR_EXIT : code;
  }
}

/** A failing command's exit code without printing anything more (e.g. `check` found problems). */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

async function report(err: unknown, io: CliIO, globals: GlobalOptions): Promise<number> {
  const debug = globals.debug === true;
  if (err instanceof ExitStatus) return err.code;
  // Help and --version: commander has printed them.
  if (err instanceof CommanderError) return EXIT.ok;
  // A container tool's own words (`touch: /x: Read-only file system`), exactly as it prints them.
  if (err instanceof ToolError) {
    for (const line of err.lines) io.stderr.write(`${line}\n`);
    return EXIT.failure;
  }
  if (debug && err instanceof Error) io.stderr.write(`${err.stack}\n`);
  io.stderr.write(`strata: ${describe(await aboutStore(err, io, globals))}\n`);
  // A command that is not there or cannot run: Docker's 127 and 126.
  if (isStrataError(err, 'ECOMMAND') && typeof err.found === 'number') return err.found;
  if (isStrataError(err, 'EINTERRUPTED')) return io.signal?.reason === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
  return EXIT.failure;
}

/**
 * An fs error on the store's own bookkeeping (`locks/.tmp-…-lock`, `images/.tmp-…json`)
 * names a file the user never chose and cannot act on; it is said about the store
 * instead: `cannot write to store ROOT: permission denied`. Loaded only on failure,
 * so a successful command never pays for it.
 */
async function aboutStore(err: unknown, io: CliIO, globals: GlobalOptions): Promise<unknown> {
  if (!isFsError(err) || !err.path) return err;
  const [{ readEnvironment }, { isStoreInternalError, storeActionOf, storeError }] = await Promise.all([
    import('./environment.js'),
    import('../store/store-error.js'),
  ]);
  const root = path.resolve(globals.root ?? (io.environment ?? readEnvironment()).defaultRoot);
  return isStoreInternalError(root, err) ? storeError(root, storeActionOf(err), err) : err;
}

/** One line a user can act on: what failed, on which file, and why. */
function describe(err: unknown): string {
  if (isStrataError(err)) return err.message;
  if (isFsError(err) && err.path) {
    const text = FS_ERROR_TEXT[err.code] ?? err.code;
    return `${err.path}: ${text}`;
  }
  if (err instanceof Error) return err.message.split('\n')[0]!;
  return String(err);
}
