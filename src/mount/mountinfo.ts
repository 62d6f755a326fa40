import fs from 'node:fs';

/** One line of /proc/self/mountinfo, with the fields strata asks about. */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  superOptions: string;
}

/**
 * The mounts this process sees, read afresh each call: the kernel is the only truth
 * about what is mounted (a count file can be stale after a crash, a mount can be
 * made or dropped by someone else). Without /proc (not Linux) nothing is mounted.
 */
export function readMounts(file = '/proc/self/mountinfo'): MountEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    // `<id> <parent> <dev> <root> <point> <options> [optional…] - <fstype> <source> <super options>`
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const point = line.slice(0, dash).split(' ')[4];
    const [fsType, , superOptions] = line.slice(dash + 3).split(' ');
    if (point === undefined || fsType === undefined) continue;
    entries.push({ mountPoint: unescapeOctal(point), fsType, superOptions: superOptions ?? '' });
  }
  return entries;
}

/** The topmost mount at `point` (a real path), or null. */
export function mountAt(point: string, mounts = readMounts()): MountEntry | null {
  let found: MountEntry | null = null;
  for (const m of mounts) if (m.mountPoint === point) found = m;
  return found;
}

/** The kernel writes space, tab, newline and backslash in paths (and `,` in overlay's options) as \ooo. */
export function unescapeOctal(s: string): string {
  if (!s.includes('\\')) return s;
  return Buffer.from(
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
    'latin1',
  ).toString('utf8');
}
