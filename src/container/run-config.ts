import { StrataError } from '../errors.js';
import type { ContainerConfig, MountSpec } from './record.js';

/**
 * What `create`'s -e, --env-file, -l, --label-file, --entrypoint, -w, -u and -h set,
 * and how Docker merges them with the image's config (daemon/commit.go `merge`).
 */

/** Looks a name up in strata's own environment (the CLI passes process.env). */
export type EnvLookup = (name: string) => string | undefined;

/**
 * One `-e` value (docker/cli opts.ValidateEnv): `KEY=VALUE` as given; a bare `KEY`
 * takes strata's own value. When strata has none, Docker keeps the bare `KEY`: it is
 * in Config.Env, sets nothing in the container, and still overrides the image's KEY
 * in the merge (docker/cli#1780) — so strata keeps it too.
 */
export function envFlagEntry(value: string, lookup: EnvLookup): string {
  const eq = value.indexOf('=');
  const key = eq < 0 ? value : value.slice(0, eq);
  if (key === '')
    throw new StrataError(
      'EUSAGE',
      `invalid argument ${JSON.stringify(value)} for "-e, --env" flag: invalid environment variable: ${value}`,
      { path: value },
    );
  if (eq >= 0) return value;
  const own = lookup(key);
  return own === undefined ? key : `${key}=${own}`;
}

/**
 * An --env-file or --label-file as Docker reads it (docker/cli opts/file.go): one
 * entry a line; leading white space, blank lines and `#` lines skipped; `KEY=VALUE`
 * taken as it is — no quotes removed, nothing trimmed after the `=`; a bare `KEY`
 * takes its value from `lookup` (env files) or is dropped (label files, no lookup).
 */
export function parseKeyValueFile(text: Buffer, file: string, lookup?: EnvLookup): string[] {
  const entries: string[] = [];
  const lines = splitLines(text);
  for (const [index, bytes] of lines.entries()) {
    if (!isValidUtf8(bytes))
      throw new StrataError('EUSAGE', `env file ${file} contains invalid utf8 bytes at line ${index + 1}`, { path: file });
    const text = bytes.toString('utf8').replace(index === 0 ? /^\uFEFF/ : /^$/, '');
    const line = text.replace(/\r$/, '').replace(/^\s+/u, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const variable = (eq < 0 ? line : line.slice(0, eq)).replace(/^[ \t]+/, '');
    if (/[ \t]/.test(variable)) throw badKey(`variable '${variable}' contains whitespaces`, file);
    if (variable === '') throw badKey(`no variable name on line '${line}'`, file);
    if (eq >= 0) {
      entries.push(`${variable}=${line.slice(eq + 1)}`);
      continue;
    }
    const value = lookup?.(line.trim());
    if (value !== undefined) entries.push(`${line.trim()}=${value}`);
  }
  return entries;
}

/** bufio.Scanner's lines: split at \n, a final newline ends the last line rather than starting an empty one. */
function splitLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, start)) {
    lines.push(bytes.subarray(start, nl));
    start = nl + 1;
  }
  if (start < bytes.length) lines.push(bytes.subarray(start));
  return lines;
}

function badKey(reason: string, file: string): StrataError {
  return new StrataError('EUSAGE', `${file}: poorly formatted environment: ${reason}`, { path: file });
}

function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** `-l KEY=VALUE` and `-l KEY` (an empty value) into a map; a later key wins, as in Docker. */
export function labelMap(entries: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq < 0) labels[entry] = '';
    else labels[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return labels;
}

/**
 * Docker's merge of Env: the container's own entries first, in the order given, then
 * every image entry whose key none of them sets.
 */
export function mergeEnv(own: string[], image: string[]): string[] {
  if (own.length === 0) return [...image];
  const keys = new Set(own.map(envKey));
  return [...own, ...image.filter((e) => !keys.has(envKey(e)))];
}

function envKey(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/** Image labels the container does not set itself are added; the container's win. */
export function mergeLabels(own: Record<string, string>, image: unknown): Record<string, string> {
  return { ...stringMap(image), ...own };
}

/** The flags of `create` that mergeRunConfig reads (a subset of CreateOptions). */
export interface RunConfigFlags {
  env?: string[];
  user?: string;
  workingDir?: string;
  tty?: boolean;
}

export interface EntrypointAndCmd {
  entrypoint: string[] | null;
  cmd: string[] | null;
}

/**
 * Docker's rules: an entrypoint given on the command line drops the image's Cmd as
 * well as its Entrypoint; `--entrypoint ""` clears the entrypoint, and then a command
 * must be given ("No command specified"); arguments after IMAGE replace the Cmd.
 */
export function entrypointAndCmd(
  image: { Entrypoint?: unknown; Cmd?: unknown },
  entrypointFlag: string | undefined,
  command: string[],
): EntrypointAndCmd {
  const imageEntrypoint = stringList(image.Entrypoint);
  const imageCmd = stringList(image.Cmd);
  let entrypoint: string[] | null;
  let cmd: string[] | null = command.length > 0 ? command : null;
  if (entrypointFlag === undefined) {
    entrypoint = imageEntrypoint;
    cmd ??= imageCmd;
  } else {
    entrypoint = entrypointFlag === '' ? null : [entrypointFlag];
    if (entrypointFlag === '' && cmd === null) throw new StrataError('EUSAGE', 'No command specified');
  }
  return { entrypoint, cmd };
}

function stringList(value: unknown): string[] | null {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : null;
}

/** A working directory must be absolute (daemon's verifyContainerSettings). */
export function checkWorkingDir(dir: string): void {
  if (dir !== '' && !dir.startsWith('/')) {
    throw new StrataError('EUSAGE', `the working directory '${dir}' is invalid, it needs to be an absolute path`, { path: dir });
  }
}

/** The fields of an image's config.config that a container inherits. */
export interface ImageRunConfig {
  Entrypoint?: unknown;
  Cmd?: unknown;
  Env?: unknown;
  WorkingDir?: unknown;
  User?: unknown;
  Labels?: unknown;
  Volumes?: unknown;
  ExposedPorts?: unknown;
  StopSignal?: unknown;
}

/** Docker's merge of the image's config with create's flags (daemon/commit.go). */
export function mergeRunConfig(
  image: ImageRunConfig,
  options: RunConfigFlags,
  resolved: {
    entrypoint: string[] | null;
    cmd: string[] | null;
    hostname: string;
    mounts: MountSpec[];
  },
): ContainerConfig {
  // `-v /path` (and only -v: a --mount is HostConfig's) declares an anonymous volume in Config.Volumes, merged with the image's.
  const anonymous = resolved.mounts.filter((m) => m.type === 'volume' && m.anonymous).map((m) => [m.destination, {}] as const);
  const volumes = { ...objectMap(image.Volumes), ...Object.fromEntries(anonymous) };
  const config: ContainerConfig = {
    hostname: resolved.hostname,
    user: options.user || (typeof image.User === 'string' ? image.User : ''),
    env: mergeEnv(options.env ?? [], Array.isArray(image.Env) ? image.Env.filter((e): e is string => typeof e === 'string') : []),
    cmd: resolved.cmd,
    entrypoint: resolved.entrypoint,
    workingDir: options.workingDir || (typeof image.WorkingDir === 'string' ? image.WorkingDir : ''),
    volumes: Object.keys(volumes).length > 0 ? volumes : null,
  };
  const ports = objectMap(image.ExposedPorts);
  if (Object.keys(ports).length > 0) config.exposedPorts = ports;
  if (typeof image.StopSignal === 'string' && image.StopSignal !== '') config.stopSignal = image.StopSignal;
  if (options.tty) config.tty = true;
  return config;
}

function objectMap(value: unknown): Record<string, object> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...(value as Record<string, object>) } : {};
}

function stringMap(value: unknown): Record<string, string> {
  const entries: [string, unknown][] = Object.entries(objectMap(value));
  return Object.fromEntries(entries.filter((e): e is [string, string] => typeof e[1] === 'string'));
}
