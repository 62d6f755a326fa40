import type { Store } from '../store/root.js';
import { StoreContentProvider, type BlobDescriptor, type ContentProvider } from '../content/provider.js';
import { storedLayerDescriptor } from '../layer/media-type.js';
import { listImageRecords, type ImageRecord } from './record.js';

/**
 * Manifests are small (a few KiB even at 100 layers); a stored one larger than this
 * is not read into memory to fill in an old record.
 */
const MAX_MANIFEST_BYTES = 4 << 20;

/**
 * The layer descriptors of an image, bottom first, as its manifest named the blobs:
 * what save writes into a manifest and push announces to a registry.
 *
 * Records written by this version carry each blob's media type and size. Older ones
 * do not, and are read as follows, most exact first:
 * 1. the stored manifest (`manifestDigest`, OCI layouts): its layer descriptors,
 *    when they name the same blobs;
 * 2. the stored blob: its size on disk (verified content, so exact), and the OCI
 *    layer media type for the compression its first bytes show — what a load of
 *    this version records for a docker-save layer, which names no media type.
 */
export async function imageLayerDescriptors(provider: ContentProvider, image: ImageRecord): Promise<BlobDescriptor[]> {
  let fromManifest: (BlobDescriptor | undefined)[] | null = null;
  const out: BlobDescriptor[] = [];
  for (const [i, layer] of image.layers.entries()) {
    if (layer.blobMediaType !== undefined && layer.blobSize !== undefined) {
      out.push({ digest: layer.blobDigest, size: layer.blobSize, mediaType: layer.blobMediaType });
      continue;
    }
    fromManifest ??= await manifestLayers(provider, image);
    const named = fromManifest[i];
    out.push(named?.digest === layer.blobDigest ? named : await storedLayerDescriptor(provider, layer.blobDigest, layer.blobMediaType));
  }
  return out;
}

/**
 * A provider of the store's blobs whose `info()` also knows the media type of every
 * layer blob an image record names (read once, when first asked; the provider
 * belongs to its caller, so a later load is seen by a new provider).
 */
export function imageContentProvider(store: Store): ContentProvider {
  let known: Promise<Map<string, string>> | undefined;
  return new StoreContentProvider(store, {
    mediaTypeOf: async (digest) => (await (known ??= layerMediaTypes(store))).get(digest),
  });
}

async function layerMediaTypes(store: Store): Promise<Map<string, string>> {
  // A provider that does not ask back here: filling in an old record needs only sizes and bytes.
  const provider = new StoreContentProvider(store);
  const out = new Map<string, string>();
  for (const image of await listImageRecords(store)) {
    for (const d of await imageLayerDescriptors(provider, image)) if (!out.has(d.digest)) out.set(d.digest, d.mediaType);
  }
  return out;
}

/** The stored manifest's layer descriptors; none when the image has no manifest or it cannot be read. */
async function manifestLayers(provider: ContentProvider, image: ImageRecord): Promise<(BlobDescriptor | undefined)[]> {
  if (image.manifestDigest === null) return [];
  let manifest: unknown;
  try {
    manifest = JSON.parse((await provider.readBounded(image.manifestDigest, MAX_MANIFEST_BYTES)).toString('utf8'));
  } catch {
    return []; // a missing or unreadable manifest leaves the blobs themselves to ask
  }
  const layers = (manifest as { layers?: unknown } | null)?.layers;
  if (!Array.isArray(layers)) return [];
  return layers.map((raw: unknown) => {
    const d = raw as Partial<BlobDescriptor> | null;
    return d !== null &&
      typeof d === 'object' &&
      typeof d.digest === 'string' &&
      typeof d.mediaType === 'string' &&
      Number.isSafeInteger(d.size)
      ? { digest: d.digest, size: d.size!, mediaType: d.mediaType }
      : undefined;
  });
}
