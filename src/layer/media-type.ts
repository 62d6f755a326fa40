import { detectCompression, type Compression } from '../archive/compression.js';
import type { BlobDescriptor, ContentProvider } from '../content/provider.js';

/**
 * The media type a layer blob is recorded with when nothing named one (docker save's
 * manifest.json lists paths only): the OCI type for the compression its first bytes
 * show — the same test that decides how the blob is unpacked, so it cannot disagree
 * with the content.
 */
export const LAYER_MEDIA_TYPES: Readonly<Record<Compression, string>> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

/** How many leading bytes `layerMediaTypeOf` needs to see. */
export const MEDIA_TYPE_HEAD_BYTES = 4;

export function layerMediaTypeOf(head: Buffer): string {
  return LAYER_MEDIA_TYPES[detectCompression(head)];
}

/**
 * The descriptor of a stored layer blob that was reused rather than read: its size
 * on disk (verified content, so exact) and the media type it was named with, or
 * else the one its first bytes show.
 */
export async function storedLayerDescriptor(provider: ContentProvider, digest: string, mediaType?: string): Promise<BlobDescriptor> {
  const { size } = await provider.info(digest);
  return { digest, size, mediaType: mediaType ?? layerMediaTypeOf(await readHead(provider, digest)) };
}

async function readHead(provider: ContentProvider, digest: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await provider.open(digest, { start: 0, end: MEDIA_TYPE_HEAD_BYTES - 1 })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
