import { digestOf } from '../content/digest.js';

/**
 * OCI image spec: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
 * A chainID names a layer together with everything below it, so two images that
 * share a base share the unpacked directories of that base.
 */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const below = out[out.length - 1];
    out.push(below === undefined ? diffId : digestOf(`${below} ${diffId}`));
  }
  return out;
}
