import { StrataError, jsonErrorReason } from '../errors.js';
import { parseDigest } from '../content/digest.js';

/** The parts of an OCI/Docker image config strata reads. Everything else is kept as-is. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: Record<string, unknown>;
  rootfs: { type: string; diff_ids: string[] };
  history?: HistoryEntry[];
  [key: string]: unknown;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  author?: string;
  empty_layer?: boolean;
}

/** Validates an untrusted config; `where` names the archive entry it came from. */
export function parseImageConfig(raw: unknown, where: string): ImageConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new StrataError('EINVALIDARCHIVE', `${where}: image config is not a JSON object`, { path: where });
  }
  const config = raw as ImageConfig;
  const rootfs = config.rootfs as unknown;
  if (
    typeof rootfs !== 'object' ||
    rootfs === null ||
    (rootfs as { type?: unknown }).type !== 'layers' ||
    !Array.isArray((rootfs as { diff_ids?: unknown }).diff_ids)
  ) {
    throw new StrataError('EINVALIDARCHIVE', `${where}: image config has no rootfs of type "layers" with diff_ids`, { path: where });
  }
  for (const d of config.rootfs.diff_ids) parseDigest(d, `${where}: rootfs.diff_ids`);
  if (config.history !== undefined && !Array.isArray(config.history)) {
    throw new StrataError('EINVALIDARCHIVE', `${where}: image config history is not a list`, { path: where });
  }
  return config;
}

export function parseImageConfigBytes(bytes: Buffer, where: string): ImageConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new StrataError('EINVALIDARCHIVE', `${where}: image config is not valid JSON (${jsonErrorReason(err)})`, { path: where });
  }
  return parseImageConfig(raw, where);
}
