import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './cli.js';

/**
 * ../shared beside the repository: real tarballs made by umoci, skopeo and Docker,
 * and what Docker printed for them. Tests that use it skip when it is absent.
 */
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const conformanceImages = path.join(sharedDir, 'conformance', 'images');

export function sharedSkipReason(): string | null {
  return fs.existsSync(conformanceImages)
    ? null
    : `../shared/conformance is not beside the repository (${path.relative(repoRoot, conformanceImages)})`;
}

/** Every conformance tarball with the TSV of its merged tree (`dk-x.zstd.oci.tar` falls back to `dk-x.rootfs.tsv`). */
export function conformanceTarballs(): { tarball: string; tsv: string }[] {
  if (sharedSkipReason()) return [];
  return fs
    .readdirSync(conformanceImages)
    .filter((n) => n.endsWith('.tar'))
    .sort()
    .map((name) => {
      const stem = name.replace(/\.(docker|oci)\.tar$/, '');
      const candidates = [`${stem}.rootfs.tsv`, `${stem.replace(/\.zstd$/, '')}.rootfs.tsv`];
      const tsv = candidates.map((c) => path.join(conformanceImages, c)).find((p) => fs.existsSync(p));
      if (!tsv) throw new Error(`no rootfs.tsv for ${name}`);
      return { tarball: path.join(conformanceImages, name), tsv };
    });
}
