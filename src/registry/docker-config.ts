import fs from 'node:fs/promises';
import path from 'node:path';
import { StrataError, jsonErrorReason } from '../errors.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { Credentials } from './auth.js';
import { helperErase, helperGet, helperStore } from './credential-helper.js';

/**
 * Credentials where Docker keeps them: `config.json` in the Docker config directory
 * (`$DOCKER_CONFIG`, else `~/.docker`; the CLI decides which), `auths` entries with
 * base64 `user:password`, or a credential helper named by `credHelpers` (per
 * registry) or `credsStore` (all). So a `docker login` already done serves strata,
 * and a `strata login` serves docker. Other keys of the file are kept as they are.
 */
interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [other: string]: unknown;
}

/** Docker Hub's credentials live under its v1 URL, for historical reasons every client keeps. */
const HUB_KEY = 'https://index.docker.io/v1/';

/** The key config.json files the registry under: Docker Hub's URL, else `host[:port]`. */
export function serverKey(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' || registry === 'registry-1.docker.io' ? HUB_KEY : registry;
}

/** `https://host/v2/` and `host` name the same registry. */
function sameServer(key: string, registry: string): boolean {
  const bare = (k: string) => k.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  return key === serverKey(registry) || bare(key) === bare(serverKey(registry));
}

export async function readCredentials(configDir: string, registry: string): Promise<Credentials | undefined> {
  const config = await readConfig(configDir);
  const key = serverKey(registry);
  const helper = config.credHelpers?.[key] ?? config.credHelpers?.[registry] ?? config.credsStore;
  if (helper) {
    const found = await helperGet(helper, key);
    if (found) return found;
  }
  const entry = Object.entries(config.auths ?? {}).find(([k]) => sameServer(k, registry))?.[1];
  if (!entry) return undefined;
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString();
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string')
    return { username: entry.username, password: entry.password };
  return undefined;
}

/**
 * Saves credentials as `docker login` does: to the helper when one is configured, else
 * in `auths`. Returns the file when the password went into it (Docker warns about that).
 */
export async function storeCredentials(configDir: string, registry: string, credentials: Credentials): Promise<string | null> {
  const config = await readConfig(configDir);
  const key = serverKey(registry);
  const helper = config.credHelpers?.[key] ?? config.credsStore;
  if (helper) {
    await helperStore(helper, key, credentials);
    config.auths = { ...config.auths, [key]: {} };
  } else {
    config.auths = { ...config.auths, [key]: { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') } };
  }
  await writeConfig(configDir, config);
  return helper ? null : path.join(configDir, 'config.json');
}

/** Removes the registry's credentials; false when there were none. */
export async function removeCredentials(configDir: string, registry: string): Promise<boolean> {
  const config = await readConfig(configDir);
  const keys = Object.keys(config.auths ?? {}).filter((k) => sameServer(k, registry));
  const helper = config.credHelpers?.[serverKey(registry)] ?? config.credsStore;
  if (keys.length === 0 && !helper) return false;
  if (helper) await helperErase(helper, serverKey(registry));
  if (keys.length === 0) return helper !== undefined;
  for (const k of keys) delete config.auths![k];
  await writeConfig(configDir, config);
  return true;
}

async function readConfig(configDir: string): Promise<DockerConfig> {
  const file = path.join(configDir, 'config.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  if (text.trim() === '') return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as DockerConfig;
  } catch (err) {
    throw new StrataError('EBADRECORD', `${file}: ${jsonErrorReason(err)}`, { path: file });
  }
}

/** Atomically, mode 0600: the file holds secrets. */
async function writeConfig(configDir: string, config: DockerConfig): Promise<void> {
  await fs.mkdir(configDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path.join(configDir, 'config.json'), `${JSON.stringify(config, null, '\t')}\n`, 0o600);
}
