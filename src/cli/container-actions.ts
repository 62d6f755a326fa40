import fs from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { FS_ERROR_TEXT, StrataError, isStrataError } from '../errors.js';
import { createContainer } from '../container/create.js';
import type { ContainerRecord } from '../container/record.js';
import { parseMountFlag } from '../container/mount-flag.js';
import { envFlagEntry, labelMap, parseKeyValueFile, type EnvLookup } from '../container/run-config.js';
import { containerChanges } from '../container/diff.js';
import { findContainer } from '../container/lookup.js';
import { renameContainer } from '../container/rename.js';
import { parseTmpfsFlag, parseVolumeFlag } from '../container/mount-spec.js';
import type { CliContext } from './context.js';
import { eachName, isTemplate, printTemplate } from './output.js';
import { compileTemplate } from './template.js';
import { assertInstalled, parseRuntimeName, type RuntimeName } from '../run/runtime-choice.js';

/** What the container commands do; container-commands.ts defines them and loads this when one runs. */

export interface CreateFlags {
  name?: string;
  readOnly?: boolean;
  tmpfs: string[];
  volume: string[];
  mount: string[];
  env: string[];
  envFile: string[];
  entrypoint?: string;
  workdir?: string;
  user?: string;
  label: string[];
  labelFile: string[];
  hostname?: string;
  rm?: boolean;
  network?: string;
  tty?: boolean;
  runtime?: string;
}

export async function create(ctx: CliContext, image: string, command: string[], opts: CreateFlags): Promise<void> {
  ctx.print((await createFromFlags(ctx, image, command, opts)).id);
}

/** `create`'s flags parsed and the container made: `run` starts from here too. */
export async function createFromFlags(ctx: CliContext, image: string, command: string[], opts: CreateFlags): Promise<ContainerRecord> {
  // strata's own environment is read here, at the CLI's edge: `-e KEY` and bare KEYs in an env file take their values from it.
  const lookup = (key: string) => process.env[key];
  const flagValues = <T>(parse: () => T): T => {
    try {
      return parse();
    } catch (err) {
      // A malformed --mount or -e is a flag error: Docker's two lines and 125.
      if (isStrataError(err, 'EUSAGE')) throw new InvalidArgumentError(err.message);
      throw err;
    }
  };
  const hostMounts = flagValues(() => opts.mount.map(parseMountFlag));
  const runtime = chosenRuntime(ctx, opts);
  // A runtime chosen here must be there now, as a daemon knows its runtimes at create: nothing is made for one
  // that is not. (`run` checks runc too; a `create` without a choice works on a machine without runc.)
  if (runtime !== undefined) assertInstalled(runtime, process.env.PATH ?? '');
  const cliEnv = flagValues(() => opts.env.map((e) => envFlagEntry(e, lookup)));
  // As Docker: the files' entries first, then -e, in the order given.
  const env = [...(await readKeyValueFiles(opts.envFile, lookup)), ...cliEnv];
  const labels = labelMap([...(await readKeyValueFiles(opts.labelFile)), ...opts.label]);
  return createContainer(await ctx.store(), image, {
    name: opts.name,
    readOnly: opts.readOnly === true,
    mounts: [...opts.tmpfs.map(parseTmpfsFlag), ...opts.volume.map(parseVolumeFlag)],
    hostMounts,
    command,
    env,
    entrypoint: opts.entrypoint,
    workingDir: opts.workdir,
    user: opts.user,
    labels,
    hostname: opts.hostname,
    autoRemove: opts.rm === true,
    network: networkMode(opts.network),
    tty: opts.tty === true,
    runtime,
  });
}

/** `--runtime`, else $STRATA_RUNTIME; undefined when neither chose one (runc then). */
export function chosenRuntime(ctx: CliContext, opts: CreateFlags): RuntimeName | undefined {
  if (opts.runtime !== undefined) return parseRuntimeName(opts.runtime);
  const fromEnvironment = ctx.environment.defaultRuntime;
  if (fromEnvironment === undefined) return undefined;
  try {
    return parseRuntimeName(fromEnvironment);
  } catch (err) {
    throw new StrataError('EUSAGE', `STRATA_RUNTIME: ${(err as Error).message}`);
  }
}

/** `--network`: strata has no bridge to attach to, so `none` (loopback only, the default) or `host`. */
function networkMode(value: string | undefined): 'none' | 'host' {
  if (value === undefined || value === 'none' || value === 'host') return value ?? 'none';
  throw new InvalidArgumentError(`network ${value} not found: strata runs containers with --network none (the default) or host`);
}

async function readKeyValueFiles(files: string[], lookup?: EnvLookup): Promise<string[]> {
  const entries: string[] = [];
  for (const file of files) {
    const text = await fs.readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw new StrataError('EUSAGE', `open ${file}: ${(FS_ERROR_TEXT[err.code ?? ''] ?? err.message).toLowerCase()}`, {
        path: file,
        cause: err,
      });
    });
    entries.push(...parseKeyValueFile(text, file, lookup));
  }
  return entries;
}

export async function rm(ctx: CliContext, names: string[], opts: { force?: boolean; volumes?: boolean }): Promise<void> {
  const store = await ctx.store();
  const { removeContainerAndImage } = await import('../gc/remove-container.js');
  await eachName(ctx, names, async (n) => {
    // rm -f of a container whose process runs: killed first, as Docker's (without -f, removal refuses).
    if (opts.force) await (await import('../run/control.js')).killIfRunning(store, n);
    await removeContainerAndImage(store, n, opts);
    ctx.print(n);
  });
}

export async function rename(ctx: CliContext, name: string, newName: string): Promise<void> {
  // docker/cli trims both names before anything else.
  await renameContainer(await ctx.store(), name.trim(), newName.trim());
}

export async function diff(ctx: CliContext, name: string, opts: { format?: string }): Promise<void> {
  const template = isTemplate(opts.format) ? compileTemplate(opts.format, { typeName: 'change' }) : undefined;
  const store = await ctx.store();
  const changes = await containerChanges(store, await findContainer(store, name));
  if (template) {
    printTemplate(
      ctx,
      template,
      changes.map((change) => ({ Kind: change.kind, Path: change.path })),
    );
    return;
  }
  for (const change of changes) {
    ctx.print(opts.format === 'json' ? JSON.stringify({ Kind: change.kind, Path: change.path }) : `${change.kind} ${change.path}`);
  }
}
