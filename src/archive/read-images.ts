import { StrataError } from '../errors.js';
import { DOCKER_MANIFEST, readDockerSave } from './docker-save.js';
import { ARCHIVE_LIMITS } from './limits.js';
import { OCI_INDEX, OCI_LAYOUT_FILE, readOciLayout } from './oci-layout.js';
import { formatPlatform, hostPlatform, normalizePlatform, parsePlatform, platformScore, type Platform } from './platform.js';
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
  const images = await readAnyFormat(source, options);
  for (const image of images) refuseHugeConfig(source, image);
  return images;
}

async function readAnyFormat(source: ArchiveSource, options: ReadImagesOptions): Promise<ArchiveImage[]> {
  if (source.has(DOCKER_MANIFEST)) {
    const images = await readDockerSave(source);
    return options.platform === undefined ? images : onlyPlatform(source, images, parsePlatform(options.platform));
  }
  if (source.has(OCI_INDEX) || source.has(OCI_LAYOUT_FILE)) {
    const explicit = options.platform !== undefined;
    const platform = explicit ? parsePlatform(options.platform!) : hostPlatform();
    return readOciLayout(source, { platform, explicit });
  }
  throw new StrataError(
    'EINVALIDARCHIVE',
    `${source.displayName}: not an image archive (neither ${DOCKER_MANIFEST} from docker save nor ${OCI_INDEX} of an OCI layout)`,
    { path: source.displayName },
  );
}

/**
 * docker-save names no platforms: with `--platform`, each image's config says which it
 * is, and the images of other platforms are left out. None left is an error naming the
 * platforms the archive does have (without `--platform` every image loads, as Docker's).
 */
async function onlyPlatform(source: ArchiveSource, images: ArchiveImage[], want: Platform): Promise<ArchiveImage[]> {
  const have: string[] = [];
  const kept: ArchiveImage[] = [];
  for (const image of images) {
    refuseHugeConfig(source, image);
    const config = (await source.readJson(image.configPath, { maxBytes: ARCHIVE_LIMITS.maxConfigBytes })) as Partial<
      Record<'os' | 'architecture' | 'variant', unknown>
    >;
    const platform = {
      os: String(config.os ?? ''),
      architecture: String(config.architecture ?? ''),
      ...(typeof config.variant === 'string' ? { variant: config.variant } : {}),
    };
    have.push(formatPlatform(normalizePlatform(platform)));
    if (platformScore(platform, want) > 0) kept.push(image);
  }
  if (kept.length === 0) {
    throw new StrataError(
      'EPLATFORM',
      `${source.displayName}: no image for ${formatPlatform(want)}; it has ${[...new Set(have)].join(', ')}`,
      {
        path: source.displayName,
        expected: formatPlatform(want),
        found: [...new Set(have)].join(', '),
      },
    );
  }
  return kept;
}

/**
 * A config is parsed whole after it is stored, so its size is checked here, from the
 * tar header (which an OCI descriptor's size already had to match), before anything
 * reads it.
 */
function refuseHugeConfig(source: ArchiveSource, image: ArchiveImage): void {
  const size = source.size(image.configPath);
  const limit = ARCHIVE_LIMITS.maxConfigBytes;
  if (size > limit) {
    throw new StrataError('ELIMIT', `${source.displayName}: ${image.configPath}: image config is ${size} bytes (limit ${limit})`, {
      path: image.configPath,
      expected: limit,
      found: size,
    });
  }
}
