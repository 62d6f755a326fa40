import { digestOf } from '../content/digest.js';

/**
 * OCI image spec: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
 * A chainID names a layer together with everything below it, so two images that
 * share a base share the unpacked directories of that base.
 */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) out.push(chainIdOf(out[out.length - 1] ?? null, diffId));
  return out;
}

/** The chainID of a layer with content `diffId` on top of the layer `parent` (a chainID, or null for a base layer). */
export function chainIdOf(parent: string | null, diffId: string): string {
  return parent === null ? diffId : digestOf(`${parent} ${diffId}`);
}
