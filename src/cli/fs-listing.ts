import path from 'node:path';
import type { Resolver } from '../resolver/resolver.js';
import type { ResolverStats } from '../resolver/options.js';
import type { ContainerRecord } from '../container/record.js';
import { compareNames } from '../resolver/readdir.js';
import { devMajor, devMinor } from '../resolver/upper-meta.js';

/**
 * What `fs ls` and `fs stat` print, loaded only by those two commands (it needs the
 * resolver's name order and device numbers).
 */
export interface Listed {
  /** As shown: the argument as typed, or the name inside a listed directory. */
  name: string;
  /** The container path. */
  path: string;
  stats: ResolverStats;
  target?: string;
}

export async function listed(v: Resolver, name: string, p: string, stats: ResolverStats): Promise<Listed> {
  return { name, path: p, stats, ...(stats.type === 'symlink' ? { target: await v.readlink(p) } : {}) };
}

/** A directory's entries, sorted by name as ls sorts them; with -a also dotfiles, `.` and `..`. */
export async function listDirectory(v: Resolver, dir: string, all: boolean): Promise<Listed[]> {
  const items: Listed[] = [];
  if (all) {
    items.push(await listed(v, '.', dir, await v.stat(dir)));
    items.push(await listed(v, '..', path.posix.join(dir, '..'), await v.stat(`${dir.replace(/\/+$/, '')}/..`)));
  }
  for (const name of await v.readdir(dir)) {
    if (!all && name.startsWith('.')) continue;
    const p = path.posix.join(dir, name);
    items.push(await listed(v, name, p, await v.lstat(p)));
  }
  return items.sort((a, b) => compareNames(a.name, b.name));
}

const TYPE_LETTER: Record<ResolverStats['type'], string> = {
  file: '-',
  dir: 'd',
  symlink: 'l',
  fifo: 'p',
  char: 'c',
  block: 'b',
  socket: 's',
};

/** `drwxr-xr-x`, with s/S, s/S and t/T for setuid, setgid and sticky, as ls prints it. */
export function modeString(type: ResolverStats['type'], mode: number): string {
  let text = TYPE_LETTER[type];
  for (const [shift, special, letter] of [
    [6, 0o4000, 's'],
    [3, 0o2000, 's'],
    [0, 0o1000, 't'],
  ] as const) {
    const bits = (mode >> shift) & 7;
    text += bits & 4 ? 'r' : '-';
    text += bits & 2 ? 'w' : '-';
    const x = (bits & 1) !== 0;
    text += mode & special ? (x ? letter : letter.toUpperCase()) : x ? 'x' : '-';
  }
  return text;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const HALF_YEAR_MS = (365 * 24 * 3600 * 1000) / 2;

/** busybox ls: `Nov 23 05:31` within half a year (and up to 15 minutes ahead), else `Nov 23  2019`; UTC, as in a container. */
export function lsDate(ms: number, now: number): string {
  const d = new Date(ms);
  const head = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)}`;
  const age = now - ms;
  if (age < HALF_YEAR_MS && age > -15 * 60 * 1000) {
    return `${head} ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
  }
  return `${head}  ${d.getUTCFullYear()}`;
}

/** Owner and group names, as the container itself would name them. */
export interface OwnerNames {
  users: Map<number, string>;
  groups: Map<number, string>;
}

/**
 * busybox ls names owners from the container's own /etc/passwd and /etc/group (read
 * through the merged view), never the host's; an id neither names stays a number.
 */
export async function ownerNames(v: Resolver): Promise<OwnerNames> {
  const table = async (file: string): Promise<Map<number, string>> => {
    const text = await v.readFile(file, 'utf8').catch(() => '');
    const names = new Map<number, string>();
    for (const line of String(text).split('\n')) {
      const [name, , id] = line.split(':');
      // The first entry for an id names it, as getpwuid returns the first match.
      if (name && id !== undefined && /^\d+$/.test(id) && !names.has(Number(id))) names.set(Number(id), name);
    }
    return names;
  };
  return { users: await table('/etc/passwd'), groups: await table('/etc/group') };
}

/**
 * busybox `ls -l` columns: mode, links, owner, group (names cut to 8 characters, or
 * numbers with `-n`), size (or major, minor), date, name, `-> target`.
 */
export function lsLines(items: Listed[], long: boolean, now: number, names?: OwnerNames): string[] {
  if (!long) return items.map((i) => i.name);
  return items.map(({ name, stats: s, target }) => {
    const size =
      s.type === 'char' || s.type === 'block'
        ? `${String(devMajor(s.rdev)).padStart(4)}, ${String(devMinor(s.rdev)).padStart(3)}`
        : String(s.size).padStart(9);
    const link = target === undefined ? '' : ` -> ${target}`;
    const owner = (names?.users.get(s.uid) ?? String(s.uid)).slice(0, 8);
    const group = (names?.groups.get(s.gid) ?? String(s.gid)).slice(0, 8);
    return `${modeString(s.type, s.mode)} ${String(s.nlink).padStart(4)} ${owner.padEnd(8)} ${group.padEnd(8)} ${size} ${lsDate(s.mtimeMs, now)} ${name}${link}`;
  });
}

/** A container record with its image's diffIDs (bottom first), the ID `du` and `history --format json` name layers by. */
export type RecordWithLayerIds = ContainerRecord & { layerDiffIds?: string[] };

/**
 * Which layer serves an entry: the upper dir, a mount, or the layer's diffID (the
 * same ID `du` prints, short, and `history --format json` gives); the chainID when
 * the image record is gone.
 */
function layerName(record: RecordWithLayerIds, layer: ResolverStats['layer']): string {
  if (typeof layer !== 'number') return layer;
  // The resolver numbers lower dirs top first; records list layers bottom first.
  const ids = record.layerDiffIds ?? record.layers;
  return ids[ids.length - 1 - layer] ?? `lower ${layer}`;
}

const TYPE_NAME: Record<ResolverStats['type'], string> = {
  file: 'regular file',
  dir: 'directory',
  symlink: 'symbolic link',
  fifo: 'fifo',
  char: 'character special file',
  block: 'block special file',
  socket: 'socket',
};

function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

/** `2026-11-23 04:37:00.000000000 +0000`, stat(1)'s time format, in UTC. */
function statTime(ms: number): string {
  const iso = new Date(Math.floor(ms)).toISOString();
  const nanos = String(Math.round((ms - Math.floor(ms / 1000) * 1000) * 1e6))
    .padStart(9, '0')
    .slice(0, 9);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${nanos} +0000`;
}

export function statText(item: Listed, record: ContainerRecord): string {
  const s = item.stats;
  const type = s.type === 'file' && s.size === 0 ? 'regular empty file' : TYPE_NAME[s.type];
  const lines = [
    `  File: ${item.name}${item.target === undefined ? '' : ` -> ${item.target}`}`,
    `  Size: ${String(s.size).padEnd(10)}  Links: ${String(s.nlink).padEnd(6)}  ${type}`,
  ];
  if (s.type === 'char' || s.type === 'block') lines.push(`Device: ${devMajor(s.rdev)},${devMinor(s.rdev)}`);
  lines.push(
    `Access: (${octal(s.mode)}/${modeString(s.type, s.mode)})  Uid: ${s.uid}  Gid: ${s.gid}`,
    `Modify: ${statTime(s.mtimeMs)}`,
    ` Layer: ${layerName(record, s.layer)}`,
  );
  return lines.join('\n');
}

/** One object per path for scripts: numbers as numbers, the mode also as ls prints it. */
export function statJson(item: Listed, record: ContainerRecord): object {
  const s = item.stats;
  return {
    name: item.name,
    path: item.path,
    type: s.type,
    mode: octal(s.mode),
    modeString: modeString(s.type, s.mode),
    uid: s.uid,
    gid: s.gid,
    size: s.size,
    nlink: s.nlink,
    ...(s.type === 'char' || s.type === 'block' ? { devMajor: devMajor(s.rdev), devMinor: devMinor(s.rdev) } : {}),
    mtime: new Date(s.mtimeMs).toISOString(),
    ...(item.target === undefined ? {} : { linkTarget: item.target }),
    layer: layerName(record, s.layer),
  };
}

/**
 * What `--format` templates see for an entry: statJson's facts with Go-style field
 * names (`{{.Name}} {{.Permissions}} {{.Size}}`), every field present for every type.
 */
export function statFields(item: Listed, record: ContainerRecord): object {
  const s = item.stats;
  const device = s.type === 'char' || s.type === 'block';
  return {
    Name: item.name,
    Path: item.path,
    Type: s.type,
    Mode: octal(s.mode),
    Permissions: modeString(s.type, s.mode),
    Uid: s.uid,
    Gid: s.gid,
    Size: s.size,
    Links: s.nlink,
    DevMajor: device ? devMajor(s.rdev) : 0,
    DevMinor: device ? devMinor(s.rdev) : 0,
    Modified: statTime(s.mtimeMs),
    Target: item.target ?? '',
    Layer: layerName(record, s.layer),
  };
}

/** ls's order for names given on the command line, as for a directory's entries. */
export function sortByName(items: Listed[]): Listed[] {
  return items.sort((a, b) => compareNames(a.name, b.name));
}
