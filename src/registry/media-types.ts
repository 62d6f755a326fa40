import { MEDIA_TYPES } from '../archive/oci-layout.js';

/** The manifest types pull understands, and the Accept header that asks for all of them. */
export const INDEX_TYPES: readonly string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList];
export const MANIFEST_TYPES: readonly string[] = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest];

/**
 * Every type, always: distribution answers 404 (not 406) for an OCI manifest when the
 * OCI type is missing from Accept, and for any manifest when Accept is absent.
 */
export const MANIFEST_ACCEPT = [...INDEX_TYPES, ...MANIFEST_TYPES].join(', ');
