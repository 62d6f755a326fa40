import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { listContainerRecords, type ContainerRecord } from './record.js';

/**
 * Finds a container by name (with or without Docker's leading `/`), full ID, or a
 * unique ID prefix — the three ways docker accepts, in that order.
 */
export async function findContainer(store: Store, name: string): Promise<ContainerRecord> {
  const all = await listContainerRecords(store);
  const bare = name.startsWith('/') ? name.slice(1) : name;
  const byName = all.find((c) => c.name === bare);
  if (byName) return byName;
  const byId = all.find((c) => c.id === name);
  if (byId) return byId;
  if (/^[0-9a-f]+$/.test(name)) {
    const matches = all.filter((c) => c.id.startsWith(name));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new StrataError('EAMBIGUOUS', `multiple containers found with provided prefix: ${name}`, { path: name });
    }
  }
  throw new StrataError('ENOTFOUND', `No such container: ${name}`, { path: name });
}
