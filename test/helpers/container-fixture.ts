import type { ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { tmpStore, type TmpStore } from './tmp-store.js';
import { buildImage, type LayerInput } from './image-builder.js';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer, type CreateOptions } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import type { ContainerRecord } from '../../src/container/record.js';
import type { Resolver } from '../../src/resolver/resolver.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';

export interface ContainerFixture extends TmpStore {
  record: ContainerRecord;
  view: Resolver;
}

/** A fresh store with image `app:1` built from `layers`, and container `app1` made from it with its merged view. */
export async function containerFromLayers(
  t: ExecutionContext,
  format: WhiteoutFormat,
  layers: LayerInput[],
  options: CreateOptions = {},
): Promise<ContainerFixture> {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: format });
  const file = path.join(dir, 'app.tar');
  await fs.writeFile(file, await buildImage({ format: 'oci', repoTags: ['app:1'], layers }));
  await loadImages(store, { path: file });
  const record = await createContainer(store, 'app:1', { name: 'app1', ...options });
  return { store, dir, record, view: await containerView(store, record) };
}
