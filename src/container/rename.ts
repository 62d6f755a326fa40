import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { findContainer } from './lookup.js';
import { withContainerLock } from './lock.js';
import { isValidContainerName } from './names.js';
import { listContainerRecords, readContainerRecord, writeContainerRecord, type ContainerRecord } from './record.js';

/**
 * `docker rename OLD NEW`, with the daemon's checks in its order (moby
 * daemon/rename.go): the container must exist, the new name must differ from the
 * current one, be a valid name, and be free. The store lock keeps a create or
 * another rename from taking the name meanwhile; the container lock lets a write
 * to the container in flight finish first; the record is replaced atomically.
 */
export async function renameContainer(store: Store, oldName: string, newName: string): Promise<ContainerRecord> {
  if (oldName === '' || newName === '') throw new StrataError('EUSAGE', 'Neither old nor new names may be empty');
  const wanted = newName.startsWith('/') ? newName : `/${newName}`;
  return withStoreLock(store, async () => {
    const found = await findContainer(store, oldName);
    if (`/${found.name}` === wanted) {
      throw new StrataError('EUSAGE', 'Renaming a container with the same name as its current name', { path: oldName });
    }
    if (!isValidContainerName(wanted)) {
      throw new StrataError(
        'EUSAGE',
        `Error when allocating new name: Invalid container name (${wanted}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
        { path: newName },
      );
    }
    const name = wanted.slice(1);
    const owner = (await listContainerRecords(store)).find((c) => c.name === name);
    if (owner) {
      throw new StrataError(
        'ECONFLICT',
        `Error when allocating new name: Conflict. The container name "${wanted}" is already in use by container "${owner.id}". You have to remove (or rename) that container to be able to reuse that name.`,
        { path: newName },
      );
    }
    return withContainerLock(store, found.id, async () => {
      // Re-read under the container lock: the record as it is now, not as the lookup saw it.
      const record = await readContainerRecord(store, found.id);
      record.name = name;
      await writeContainerRecord(store, record);
      return record;
    });
  });
}
