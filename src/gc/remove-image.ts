import fs from 'node:fs/promises';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { requireReadableRecordDirs } from '../store/record-dir.js';
import { removeByRename } from '../store/atomic.js';
import { shortId } from '../content/digest.js';
import { listContainerRecords } from '../container/record.js';
import { markLive } from './mark.js';
import { findImage } from '../image/lookup.js';
import { familiarName } from '../image/reference.js';
import { readImageRecord, removeImageRecord, writeImageRecord, type ImageRecord } from '../image/record.js';
import { readTags, tagsOf, writeTags } from '../image/tags.js';
import { faultPoint } from '../store/fault-points.js';

/** What rmi did, in Docker's order; `bytes` is what a deleted layer held. */
export type RemoveEvent = { type: 'untagged'; ref: string } | { type: 'deleted'; id: string; bytes: number };

/**
 * `rmi`, with Docker's rules: removing one of several tags only untags; removing the
 * last tag (or the ID) deletes the image and then the layers and blobs nothing else
 * uses. An image a container uses, or an ID with several tags, needs `force` — and
 * even then an image containers use is only untagged, as Docker does: it stays as
 * `<none>` (marked removeWhenUnused) and goes with the last container (releaseImage).
 */
export async function removeImage(store: Store, name: string, options: { force?: boolean } = {}): Promise<RemoveEvent[]> {
  return withStoreLock(store, async () => {
    // Refuse before the first change: the keep-list is read only after the untag, too late to stop cleanly.
    await requireReadableRecordDirs(store);
    const image = await findImage(store, name);
    const tags = await readTags(store);
    const imageTags = tagsOf(tags, image.id);
    const byTag = imageTags.includes(tryFamiliar(name) ?? '');
    const users = (await listContainerRecords(store)).filter((c) => c.image === image.id);
    const events: RemoveEvent[] = [];

    if (byTag && imageTags.length > 1) {
      delete tags[tryFamiliar(name)!];
      await writeTags(store, tags);
      return [{ type: 'untagged', ref: tryFamiliar(name)! }];
    }
    if (!options.force && users.length > 0) {
      const what = byTag ? `repository reference "${name}"` : shortId(image.id);
      throw new StrataError(
        'ECONFLICT',
        `conflict: unable to remove ${what} (must force) - container ${users[0]!.id.slice(0, 12)} is using its referenced image ${shortId(image.id)}`,
        { path: name },
      );
    }
    if (!options.force && !byTag && imageTags.length > 1) {
      throw new StrataError(
        'ECONFLICT',
        `conflict: unable to delete ${shortId(image.id)} (must be forced) - image is referenced in multiple repositories`,
        { path: name },
      );
    }
    if (users.length > 0 && imageTags.length === 0) {
      throw new StrataError(
        'ECONFLICT',
        `conflict: unable to delete ${shortId(image.id)} (cannot be forced) - image is being used by container ${users[0]!.id.slice(0, 12)}`,
        { path: name },
      );
    }
    for (const ref of imageTags) {
      delete tags[ref];
      events.push({ type: 'untagged', ref });
    }
    if (users.length > 0) {
      // Marked first: a crash between the two writes leaves a tagged image marked,
      // which goes only when unused and untagged (releaseImage checks both).
      await writeImageRecord(store, { ...image, removeWhenUnused: true });
      await writeTags(store, tags);
      return events;
    }
    await writeTags(store, tags);
    faultPoint('rmi.untagged');
    await removeImageRecord(store, image.id);
    events.push({ type: 'deleted', id: image.id, bytes: 0 });
    events.push(...(await sweepImageContent(store, image)));
    return events;
  });
}

/**
 * After a container is removed: its image goes too if `rmi -f` asked for that while
 * the container used it, and no other container and no tag needs it now. Call with
 * the store lock held.
 */
export async function releaseImage(store: Store, imageId: string, containers: { image: string }[]): Promise<RemoveEvent[]> {
  const image = await readImageRecord(store, imageId).catch(() => null);
  if (!image?.removeWhenUnused || containers.some((c) => c.image === imageId)) return [];
  if (tagsOf(await readTags(store), imageId).length > 0) return [];
  await removeImageRecord(store, imageId);
  return [{ type: 'deleted', id: imageId, bytes: 0 }, ...(await sweepImageContent(store, image))];
}

/** Removes this image's layers and blobs that no other image, container or load still needs. */
async function sweepImageContent(store: Store, image: ImageRecord): Promise<RemoveEvent[]> {
  const live = await markLive(store);
  const events: RemoveEvent[] = [];
  for (const layer of [...image.layers].reverse()) {
    faultPoint('rmi.layer');
    if (!live.layers.has(layer.chainId) && (await removeByRename(store.paths.layerDir(layer.chainId)))) {
      events.push({ type: 'deleted', id: layer.chainId, bytes: layer.size });
    }
  }
  const blobs = [image.configDigest, image.manifestDigest, ...image.layers.map((l) => l.blobDigest)];
  for (const blob of blobs) {
    if (blob && !live.blobs.has(blob)) await fs.rm(store.paths.blob(blob), { force: true });
  }
  return events;
}

function tryFamiliar(name: string): string | null {
  try {
    return familiarName(name);
  } catch {
    return null;
  }
}
