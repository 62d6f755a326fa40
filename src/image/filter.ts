import { type FilterArgs, invalidFilter } from '../filter-args.js';
import type { Store } from '../store/root.js';
import { readImageConfig } from './inspect.js';
import type { ImageSummary } from './list.js';
import { findImage } from './lookup.js';
import { familiarMatch } from './reference-match.js';

/** The keys `images --filter` takes; any other is `Invalid filter 'KEY'`, as in Docker. */
export const IMAGE_FILTER_KEYS = ['before', 'dangling', 'label', 'reference', 'since'] as const;

/**
 * The images `docker images --filter …` would list, in the order given, following
 * the daemon's rules (moby daemon/images/images.go): `dangling` is exactly `true`
 * or `false`; `before`/`since` compare creation times with an image found as any
 * command finds one; `label` values must all be among the config's Labels;
 * `reference` keeps only the tags that match one of its patterns, and an image
 * left with none is not listed.
 */
export async function selectImages(store: Store, images: ImageSummary[], filters: FilterArgs): Promise<ImageSummary[]> {
  filters.validate(IMAGE_FILTER_KEYS);
  let danglingOnly = false;
  if (filters.contains('dangling')) {
    if (filters.exactMatch('dangling', 'true')) danglingOnly = true;
    else if (!filters.exactMatch('dangling', 'false')) throw invalidFilter('dangling', filters.get('dangling'));
  }
  const before = await lastImage(store, filters.get('before'));
  const since = await lastImage(store, filters.get('since'));
  const patterns = filters.get('reference');

  const selected: ImageSummary[] = [];
  for (const image of images) {
    const created = timeKey(image.record.created);
    if (before !== null && created >= before) continue;
    if (since !== null && created <= since) continue;
    if (filters.contains('label')) {
      const config = await readImageConfig(store, image.record);
      // An image whose config has no `config` object has no labels to match, as in Docker.
      if (typeof config.config !== 'object' || config.config === null) continue;
      if (!filters.matchKeyValues('label', (config.config as { Labels?: Record<string, string> | null }).Labels)) continue;
    }
    const repoTags = patterns.length === 0 ? image.repoTags : image.repoTags.filter((ref) => patterns.some((p) => familiarMatch(p, ref)));
    if (repoTags.length === 0) {
      if (patterns.length > 0 || (filters.contains('dangling') && !danglingOnly)) continue;
    } else if (danglingOnly) {
      continue;
    }
    selected.push({ ...image, repoTags });
  }
  return selected;
}

/** Docker walks every value and keeps the last image it found; a name that finds none is an error. */
async function lastImage(store: Store, names: string[]): Promise<bigint | null> {
  let found: bigint | null = null;
  for (const name of names) found = timeKey((await findImage(store, name)).created);
  return found;
}

/**
 * A creation time in nanoseconds, so images created within one millisecond still
 * compare as Docker compares them (configs carry up to nine fraction digits).
 */
function timeKey(iso: string): bigint {
  const fraction = /\.([0-9]+)/.exec(iso)?.[1] ?? '';
  const ms = Date.parse(iso.replace(/\.[0-9]+/, ''));
  if (Number.isNaN(ms)) return 0n;
  return BigInt(ms) * 1_000_000n + BigInt(`${fraction}000000000`.slice(0, 9));
}
