import { StrataError } from '../errors.js';

/** The process identity the runtime starts the command as (OCI `process.user`), and the home runc would give it. */
export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

/** Reads a file of the container's own root (its /etc/passwd, /etc/group), or null when it has none. */
export type RootFileReader = (path: string) => Promise<string | null>;

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/**
 * Docker's `-u name|uid[:group|gid]` resolved as runc's libcontainer/user does it,
 * through the image's own /etc/passwd and /etc/group (never the host's): a name
 * must be found there (Docker's error otherwise); a number is taken as it is, with
 * the passwd entry's group and home when one matches. The process's groups are what
 * Docker gives it (checked beside Docker 20.10): its primary group first, then, only
 * when no group was given, the /etc/group entries listing the user — so busybox `id`
 * prints `groups=0(root)` for root, not nothing as runc alone would.
 */
export async function resolveProcessUser(spec: string, readRootFile: RootFileReader): Promise<ProcessUser> {
  const colon = spec.indexOf(':');
  const userPart = colon < 0 ? spec : spec.slice(0, colon);
  const groupPart = colon < 0 ? '' : spec.slice(colon + 1);
  const passwd = parsePasswd((await readRootFile('/etc/passwd')) ?? '');
  const wanted = userPart === '' ? '0' : userPart;
  const numericUser = toId(wanted);
  const entry = passwd.find((p) => p.name === wanted || (numericUser !== null && p.uid === numericUser));
  if (entry === undefined && numericUser === null) {
    throw new StrataError('EUSAGE', `unable to find user ${wanted}: no matching entries in passwd file`, { path: wanted });
  }
  const user: ProcessUser = {
    uid: entry?.uid ?? numericUser!,
    gid: entry?.gid ?? 0,
    additionalGids: [],
    home: entry?.home ?? '/',
  };
  const groupText = await readRootFile('/etc/group');
  const groups = parseGroups(groupText ?? '');
  if (groupPart !== '') {
    const numericGroup = toId(groupPart);
    const group = groups.find((g) => g.name === groupPart || (numericGroup !== null && g.gid === numericGroup));
    if (group === undefined && numericGroup === null) {
      throw new StrataError('EUSAGE', `unable to find group ${groupPart}: no matching entries in group file`, { path: groupPart });
    }
    user.gid = group?.gid ?? numericGroup!;
  }
  const memberOf = groupPart === '' && entry !== undefined ? groups.filter((g) => g.members.includes(entry.name)).map((g) => g.gid) : [];
  user.additionalGids = [...new Set([user.gid, ...memberOf])];
  return user;
}

function toId(text: string): number | null {
  return /^[0-9]+$/.test(text) && Number(text) <= 0xffffffff ? Number(text) : null;
}

function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const fields of colonLines(text)) {
    const uid = toId(fields[2] ?? '');
    const gid = toId(fields[3] ?? '');
    if (uid === null || gid === null) continue;
    entries.push({ name: fields[0]!, uid, gid, home: fields[5] || '/' });
  }
  return entries;
}

function parseGroups(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const fields of colonLines(text)) {
    const gid = toId(fields[2] ?? '');
    if (gid === null) continue;
    entries.push({ name: fields[0]!, gid, members: (fields[3] ?? '').split(',').filter((m) => m !== '') });
  }
  return entries;
}

function colonLines(text: string): string[][] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}
