import { createRequire } from 'node:module';

type NodeCrypto = typeof import('node:crypto');
let crypto: NodeCrypto | undefined;

/**
 * `bytes` random bytes as hex: temp and trash names, lock nonces, change tokens, ids.
 * node:crypto is loaded on the first call, not at import: it costs 5–20 ms to load,
 * and commands that only read (df, ps, images) never need it.
 */
export function randomHex(bytes: number): string {
  crypto ??= createRequire(import.meta.url)('node:crypto') as NodeCrypto;
  return crypto.randomBytes(bytes).toString('hex');
}
