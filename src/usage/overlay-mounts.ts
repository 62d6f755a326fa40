import fs from 'node:fs';
import { unescapeOctal } from '../mount/mountinfo.js';

/**
 * The upper dirs of the overlay mounts this process can see, from /proc/self/mountinfo
 * (read once per df), fuse-overlayfs mounts of a container's merged dir included. A
 * container whose upper dir is mounted may be written by the kernel at any moment,
 * so its cached usage is never trusted. Without the file (not
 * Linux, no /proc) the set is empty and only the work/ stamp tells of mounts.
 */
export function overlayUpperDirs(mountinfo = '/proc/self/mountinfo'): Set<string> {
  const uppers = new Set<string>();
  let text: string;
  try {
    text = fs.readFileSync(mountinfo, 'utf8');
  } catch {
    return uppers;
  }
  for (const line of text.split('\n')) {
    // `<id> <parent> <dev> <root> <point> <options> [optional…] - <fstype> <source> <super options>`
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const [fstype, , superOptions] = line.slice(dash + 3).split(' ');
    if (fstype === 'fuse.fuse-overlayfs') {
      // fuse-overlayfs names no upper dir in mountinfo; strata mounts it at containers/<id>/merged, beside upper/.
      const point = unescapeOctal(line.slice(0, dash).split(' ')[4] ?? '');
      if (point.endsWith('/merged')) uppers.add(`${point.slice(0, -'merged'.length)}upper`);
      continue;
    }
    if (fstype !== 'overlay' || superOptions === undefined) continue;
    // The kernel escapes `,`, space, tab, newline and backslash in option values as \ooo.
    for (const option of superOptions.split(',')) {
      if (option.startsWith('upperdir=')) uppers.add(unescapeOctal(option.slice('upperdir='.length)));
    }
  }
  return uppers;
}
