/**
 * A fresh store in its own temp directory, removed when the test ends. The temp
 * directory (`dir`) holds the store at `dir/store` and leaves room beside it for
 * what a test needs outside the store (a "victim" directory, input files).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { openStore, type Store } from '../../src/store/root.js';
import { removeTree } from '../../src/store/atomic.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';

export interface TmpStore {
  store: Store;
  /** The temp directory that holds the store (`dir/store`). */
  dir: string;
}

export interface TmpStoreOptions {
  /** Default 'oci', which any user can hold; 'overlay' needs root. */
  whiteoutFormat?: WhiteoutFormat;
}

export async function tmpStore(t: ExecutionContext, options: TmpStoreOptions = {}): Promise<TmpStore> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-test-'));
  t.teardown(() => removeTree(dir));
  const store = await openStore({ root: path.join(dir, 'store'), whiteoutFormat: options.whiteoutFormat ?? 'oci' });
  return { store, dir };
}
