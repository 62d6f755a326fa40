import { createRequire } from 'node:module';

type Xattr = typeof import('@napi-rs/xattr');

const require = createRequire(import.meta.url);
let loaded: Xattr | undefined;

/**
 * @napi-rs/xattr, loaded on the first extended-attribute call rather than when a
 * module that might make one is imported: the native addon takes ~15 ms to load,
 * which every short command (`ps`, `system df`, `images`) would otherwise pay.
 */
export function xattr(): Xattr {
  loaded ??= require('@napi-rs/xattr') as Xattr;
  return loaded;
}
