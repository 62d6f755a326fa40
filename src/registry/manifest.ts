import { StrataError } from '../errors.js';
import { parseDigest } from '../content/digest.js';
import { CONFIG_TYPES, FOREIGN_LAYER, LAYER_TYPES } from '../archive/oci-layout.js';
import { formatPlatform, normalizePlatform, platformScore, type Platform } from '../archive/platform.js';
import { INDEX_TYPES, MANIFEST_TYPES } from './media-types.js';

/** A descriptor as a registry's manifest or index names content. */
export interface RemoteDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

export interface ImageManifest {
  config: RemoteDescriptor;
  layers: RemoteDescriptor[];
}

export type ManifestKind = 'index' | 'manifest';

/** Which of the two a fetched document is, from its media type; anything else is refused. */
export function manifestKind(mediaType: string, where: string): ManifestKind {
  if (INDEX_TYPES.includes(mediaType)) return 'index';
  if (MANIFEST_TYPES.includes(mediaType)) return 'manifest';
  throw invalid(where, `unsupported manifest media type ${JSON.stringify(mediaType)}`);
}

/** An image manifest: its config and layers, each a valid descriptor of a type strata can unpack. */
export function parseImageManifest(bytes: Buffer, where: string): ImageManifest {
  const m = parseObject(bytes, where);
  if (m.schemaVersion !== 2) throw invalid(where, `unsupported schemaVersion ${JSON.stringify(m.schemaVersion)}`);
  const config = descriptor(m.config, `${where} config`);
  if (!CONFIG_TYPES.has(config.mediaType)) throw invalid(where, `not a container image (config media type ${config.mediaType})`);
  if (!Array.isArray(m.layers)) throw invalid(where, 'layers is not an array');
  const layers = m.layers.map((raw: unknown, i) => {
    const layer = descriptor(raw, `${where} layers[${i}]`);
    if (FOREIGN_LAYER.test(layer.mediaType))
      throw invalid(where, `layers[${i}] is a foreign (non-distributable) layer, which strata does not fetch`);
    if (!LAYER_TYPES.has(layer.mediaType)) throw invalid(where, `layers[${i}]: unsupported layer media type ${layer.mediaType}`);
    return layer;
  });
  return { config, layers };
}

/**
 * The entry of an index for `want`, as Docker picks it: the best platform score
 * (ARM CPUs also run older variants), attestation manifests never. An entry that
 * names no platform serves any.
 */
export function pickPlatform(bytes: Buffer, where: string, want: Platform): RemoteDescriptor {
  const index = parseObject(bytes, where);
  if (index.schemaVersion !== 2) throw invalid(where, `unsupported schemaVersion ${JSON.stringify(index.schemaVersion)}`);
  if (!Array.isArray(index.manifests)) throw invalid(where, 'manifests is not an array');
  const entries = index.manifests
    .map((raw: unknown, i) => ({ d: descriptor(raw, `${where} manifests[${i}]`), raw: raw as Record<string, unknown> }))
    .filter(({ d, raw }) => (INDEX_TYPES.includes(d.mediaType) || MANIFEST_TYPES.includes(d.mediaType)) && !isAttestation(d, raw));
  let best: RemoteDescriptor | undefined;
  let bestScore = 0;
  for (const { d } of entries) {
    const score = d.platform ? platformScore(d.platform, want) : 1;
    if (score > bestScore) [best, bestScore] = [d, score];
  }
  if (best) return best;
  const have = entries.flatMap(({ d }) => (d.platform ? [formatPlatform(d.platform)] : []));
  throw new StrataError(
    'EPLATFORM',
    `no matching manifest for ${formatPlatform(want)} in the manifest list entries (${where} has ${have.join(', ') || 'none'})`,
    {
      expected: formatPlatform(want),
      found: have.join(', '),
    },
  );
}

/** buildx attaches provenance as extra manifests for platform unknown/unknown. */
function isAttestation(d: RemoteDescriptor, raw: Record<string, unknown>): boolean {
  const annotations = raw.annotations as Record<string, unknown> | undefined;
  return (
    annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown')
  );
}

function parseObject(bytes: Buffer, where: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid(where, 'is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid(where, 'is not a JSON object');
  return doc as Record<string, unknown>;
}

function descriptor(raw: unknown, where: string): RemoteDescriptor {
  if (typeof raw !== 'object' || raw === null) throw invalid(where, 'descriptor is not an object');
  const r = raw as Record<string, unknown>;
  if (typeof r.mediaType !== 'string' || r.mediaType === '') throw invalid(where, 'descriptor has no mediaType');
  const digest = parseDigest(r.digest, where);
  if (typeof r.size !== 'number' || !Number.isSafeInteger(r.size) || r.size < 0) throw invalid(where, `bad size ${JSON.stringify(r.size)}`);
  const p = r.platform as Record<string, unknown> | undefined;
  const platform =
    typeof p === 'object' && p !== null && typeof p.os === 'string' && typeof p.architecture === 'string'
      ? normalizePlatform({ os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' ? { variant: p.variant } : {}) })
      : undefined;
  return { mediaType: r.mediaType, digest, size: r.size, ...(platform ? { platform } : {}) };
}

function invalid(where: string, why: string): StrataError {
  return new StrataError('EINVALIDARCHIVE', `${where}: ${why}`, { path: where });
}
