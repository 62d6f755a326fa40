import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { listContainerRecords, type ContainerRecord } from '../container/record.js';
import { removeContainer, type RemoveContainerOptions } from '../container/lifecycle.js';
import { releaseImage, type RemoveEvent } from './remove-image.js';

/**
 * `rm`: removes the container and then, if `rmi -f` could only untag its image while
 * containers used it, the image too once no container is left on it (Docker keeps
 * such an image as <none>; strata finishes the removal the user asked for).
 * container/lifecycle.ts `removeContainer` alone leaves that image for `image prune`.
 */
export async function removeContainerAndImage(
  store: Store,
  name: string,
  options: RemoveContainerOptions = {},
): Promise<{ record: ContainerRecord; events: RemoveEvent[] }> {
  return withStoreLock(store, async () => {
    const record = await removeContainer(store, name, options);
    return { record, events: await releaseImage(store, record.image, await listContainerRecords(store)) };
  });
}
