import { StrataError, isStrataError } from '../errors.js';
import { FilterArgs, invalidFilter } from '../filter-args.js';
import type { Store } from '../store/root.js';
import { findImage } from '../image/lookup.js';
import { listImageRecords, type ImageRecord } from '../image/record.js';
import type { ContainerRecord } from './record.js';
import { ABSENT_FEATURE_KEYS, absentFeaturesExcludeAll } from './filter-unsupported.js';

/** What `ps` selects by: -a, -n/-l and --filter. */
export interface ContainerListOptions {
  /** Stopped and created containers too (`ps -a`). */
  all?: boolean;
  /** `ps -n N`: at most the N most recently created, in any state; 0 or less for no limit. */
  limit?: number;
  filters?: FilterArgs;
}

/** The keys `ps --filter` takes (Docker's); any other is `Invalid filter 'KEY'`, as in Docker. */
export const CONTAINER_FILTER_KEYS = [
  'ancestor',
  'before',
  'exited',
  'id',
  'label',
  'name',
  'since',
  'status',
  'volume',
  ...ABSENT_FEATURE_KEYS,
] as const;

/** Docker's state names (container.IsValidStateString); strata containers are only ever the first three. */
const STATES = ['created', 'running', 'exited', 'paused', 'restarting', 'removing', 'dead'];

/**
 * The containers `docker ps` would list, newest first, following the daemon's
 * rules and their order (moby daemon/list.go): values of one key are alternatives,
 * different keys must all match; `name` and `id` narrow the list before anything
 * else, so `before`/`since` count only what they kept; `status` implies -a; `-n`
 * shows every state; and `label` values must all match (Docker's MatchKVList).
 */
export async function selectContainers(
  store: Store,
  records: ContainerRecord[],
  options: ContainerListOptions = {},
): Promise<ContainerRecord[]> {
  const filters = options.filters ?? new FilterArgs();
  filters.validate(CONTAINER_FILTER_KEYS);
  const exitCodes = filters.get('exited').map(parseExitCode);
  let all = options.all === true;
  for (const status of filters.get('status')) {
    if (!STATES.includes(status)) throw invalidFilter('status', status);
    all = true;
  }
  const noneCanMatch = absentFeaturesExcludeAll(filters);
  const newestFirst = [...records].sort((a, b) => b.created.localeCompare(a.created) || a.id.localeCompare(b.id));
  let before = referenceContainer(newestFirst, filters.get('before'));
  const since = referenceContainer(newestFirst, filters.get('since'));
  const ancestry = filters.contains('ancestor') ? await imagesDescendedFrom(store, filters.get('ancestor')) : null;
  const limit = options.limit ?? 0;
  if (noneCanMatch) return [];

  const selected: ContainerRecord[] = [];
  for (const c of narrowByNameAndId(newestFirst, filters)) {
    // `before`: skip everything up to and including that container; `since`: stop there.
    if (before !== null) {
      if (c.id === before.id) before = null;
      continue;
    }
    if (since !== null && c.id === since.id) break;
    if (c.state.status !== 'running' && !all && limit <= 0) continue;
    if (!matchesName(filters, c) || !filters.match('id', c.id)) continue;
    if (!filters.matchKeyValues('label', containerLabels(c))) continue;
    if (limit > 0 && selected.length === limit) break;
    if (exitCodes.length > 0 && !(c.state.status === 'exited' && c.state.startedAt !== null && exitCodes.includes(c.state.exitCode)))
      continue;
    if (!filters.match('status', c.state.status)) continue;
    if (filters.contains('volume') && !filters.get('volume').some((v) => mountKeys(c).has(v))) continue;
    if (ancestry !== null && !ancestry.has(c.image)) continue;
    selected.push(c);
  }
  return selected;
}

/**
 * Labels are set at create (`-l/--label`); records written before that have none.
 * Read defensively so a record of either age filters the same way.
 */
function containerLabels(c: ContainerRecord): Record<string, string> {
  return (c as ContainerRecord & { labels?: Record<string, string> }).labels ?? {};
}

/** A name matches with or without Docker's leading `/` (so both `^web` and `^/web` work). */
function matchesName(filters: FilterArgs, c: ContainerRecord): boolean {
  return filters.match('name', `/${c.name}`) || filters.match('name', c.name);
}

/**
 * Docker's fast path: with `id=` only containers whose ID one value names as a
 * unique prefix (the daemon's truncindex), with `name=` only those whose name matches.
 */
function narrowByNameAndId(records: ContainerRecord[], filters: FilterArgs): ContainerRecord[] {
  const ids = filters.get('id');
  const names = filters.get('name');
  if (ids.length === 0 && names.length === 0) return records;
  const byId = new Set<string>();
  for (const value of ids) {
    const matches = value === '' ? [] : records.filter((c) => c.id.startsWith(value));
    if (matches.length === 1) byId.add(matches[0]!.id);
  }
  return records.filter((c) => (ids.length === 0 || byId.has(c.id)) && (names.length === 0 || matchesName(filters, c)));
}

/** `before=`/`since=` name a container by full ID or name, as the daemon looks them up. */
function referenceContainer(records: ContainerRecord[], values: string[]): ContainerRecord | null {
  let found: ContainerRecord | null = null;
  for (const value of values) {
    const bare = value.replace(/^\//, '');
    found = records.find((c) => c.id === value) ?? records.find((c) => c.name === bare) ?? null;
    if (found === null) throw new StrataError('ENOTFOUND', `no such container ${value}`, { path: value });
  }
  return found;
}

/** `exited=` takes an integer, and Docker reports anything else with Go's strconv wording. */
function parseExitCode(value: string): number {
  if (!/^[+-]?[0-9]+$/.test(value))
    throw new StrataError('EUSAGE', `strconv.Atoi: parsing ${JSON.stringify(value)}: invalid syntax`, { path: value });
  return Number(value);
}

/** What `volume=` matches: a volume's name or a bind's source, and any mount's destination. */
function mountKeys(c: ContainerRecord): Set<string> {
  const keys = new Set<string>();
  for (const m of c.mounts) {
    // --tmpfs mounts are not among Docker's mount points, so no filter finds them.
    if (m.type === 'tmpfs') continue;
    keys.add(m.type === 'volume' ? m.name : m.source);
    keys.add(m.destination);
  }
  return keys;
}

/**
 * `ancestor=`: the images named (by reference or ID prefix) and every image built
 * on one of them — whose layer chain starts with the whole of its chain, strata's
 * equivalent of Docker's parent links. A name that finds no image is passed over,
 * as the daemon does; when none is found, no container matches.
 */
async function imagesDescendedFrom(store: Store, names: string[]): Promise<Set<string>> {
  const bases: ImageRecord[] = [];
  for (const name of names) {
    try {
      bases.push(await findImage(store, name));
    } catch (err) {
      if (
        !isStrataError(err, 'ENOTFOUND') &&
        !isStrataError(err, 'EAMBIGUOUS') &&
        !isStrataError(err, 'EUSAGE') &&
        !isStrataError(err, 'EREFERENCE')
      )
        throw err;
    }
  }
  const ids = new Set(bases.map((b) => b.id));
  if (bases.length === 0) return ids;
  for (const image of await listImageRecords(store)) {
    if (bases.some((base) => extendsChain(image, base))) ids.add(image.id);
  }
  return ids;
}

function extendsChain(image: ImageRecord, base: ImageRecord): boolean {
  const top = base.layers.length - 1;
  // An image without layers is the parent of nothing but itself.
  return top >= 0 && image.layers.length > top && image.layers[top]!.chainId === base.layers[top]!.chainId;
}
