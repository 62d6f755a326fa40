import { StrataError } from '../errors.js';
import { DOCKER_MANIFEST, readDockerSave } from './docker-save.js';
import { OCI_INDEX, OCI_LAYOUT_FILE, readOciLayout } from './oci-layout.js';
import { hostPlatform, parsePlatform } from './platform.js';
import type { ArchiveImage, ArchiveSource } from './source.js';

export interface ReadImagesOptions {
  /** `os/arch[/variant]` to pick from multi-platform indexes; default: this host. */
  platform?: string;
}

/**
 * Finds the images in an opened archive, whatever wrote it. manifest.json wins when
 * both it and an OCI layout are present (Docker ≥ 25 writes both): only it carries
 * RepoTags the way `docker load` applies them.
 */
export async function readImages(source: ArchiveSource, options: ReadImagesOptions = {}): Promise<ArchiveImage[]> {
  if (source.has(DOCKER_MANIFEST)) return readDockerSave(source);
  if (source.has(OCI_INDEX) || source.has(OCI_LAYOUT_FILE)) {
    const explicit = options.platform !== undefined;
    const platform = explicit ? parsePlatform(options.platform!) : hostPlatform();
    return readOciLayout(source, { platform, explicit });
  }
  throw new StrataError('EINVALIDARCHIVE',
    `${source.displayName}: not an image archive (neither ${DOCKER_MANIFEST} from docker save nor ${OCI_INDEX} of an OCI layout)`,
    { path: source.displayName });
}
