import os from 'node:os';
import path from 'node:path';
import { StrataError } from '../errors.js';
import { defaultRoot } from '../store/default-root.js';
import { defaultRunBase } from '../mount/run-base.js';
import { defaultCertsDir } from '../registry/certs-dir.js';
import { DEFAULT_LOW_SPEED, type LowSpeedLimit } from '../registry/low-speed.js';
import type { TrustSources } from '../registry/tls-trust.js';
import type { WhiteoutFormat } from '../store/whiteout-probe.js';

/**
 * What the CLI takes from the process it runs in, read once here and passed down as
 * options: the library below reads no environment variable and asks no uid.
 */
export interface CliEnvironment {
  /** Runs as root (euid 0): may chown, make device nodes and set trusted.* xattrs. */
  privileged: boolean;
  /** Where the store is without --root: $STRATA_ROOT, else the per-user default. */
  defaultRoot: string;
  /** $STRATA_WHITEOUT_FORMAT: the encoding of a store created now; unset lets the store probe. */
  whiteoutFormat: WhiteoutFormat | undefined;
  /** $STRATA_LOCK_TIMEOUT (seconds): how long to wait for a live lock holder. */
  lockTimeoutMs: number | undefined;
  /** $SOURCE_DATE_EPOCH as set (empty counts as unset); `commit` checks it as it checks --source-date-epoch. */
  sourceDateEpoch?: string;
  /** $STRATA_IMPORT_WORKERS: layers a load imports at once; unset: one per CPU. */
  importWorkers: number | undefined;
  /** $STRATA_INSECURE_REGISTRIES (comma-separated): registries pull and push reach unchecked or over plain HTTP, as `--insecure-registry`. */
  insecureRegistries: string[];
  /**
   * $STRATA_HTTP_LOW_SPEED_LIMIT (bytes/s, 0 = off) and $STRATA_HTTP_LOW_SPEED_TIME (seconds), as git's
   * GIT_HTTP_LOW_SPEED_*: a registry response slower than this for that long is given up on.
   */
  lowSpeed: LowSpeedLimit;
  /** Where Docker's config.json (registry credentials) lives: $DOCKER_CONFIG, else ~/.docker. */
  dockerConfigDir: string;
  /**
   * What a registry's HTTPS is checked against: $SSL_CERT_FILE or the system's CA bundle, plus
   * $NODE_EXTRA_CA_CERTS, plus the registry's directory in $STRATA_CERTS_DIR, else Docker's certs.d
   * (/etc/docker/certs.d for root, $XDG_CONFIG_HOME/docker/certs.d as rootless dockerd's otherwise).
   */
  registryTrust: TrustSources;
  /** Where mount holds live: /run/strata for root, else $XDG_RUNTIME_DIR/strata (src/mount/run-base.ts). */
  runBase: string;
  /**
   * $STRATA_RUNTIME as set (empty counts as unset): the OCI runtime of a container created without
   * --runtime, as dockerd's --default-runtime; unset, runc. `create` and `run` check it, as they check --runtime.
   */
  defaultRuntime?: string;
}

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): CliEnvironment {
  const privileged = process.geteuid?.() === 0;
  return {
    privileged,
    defaultRoot: env.STRATA_ROOT ? path.resolve(env.STRATA_ROOT) : defaultRoot({ privileged, xdgDataHome: env.XDG_DATA_HOME }),
    whiteoutFormat: whiteoutFormatOf(env.STRATA_WHITEOUT_FORMAT),
    lockTimeoutMs: lockTimeoutOf(env.STRATA_LOCK_TIMEOUT),
    ...(env.SOURCE_DATE_EPOCH ? { sourceDateEpoch: env.SOURCE_DATE_EPOCH } : {}),
    importWorkers: importWorkersOf(env.STRATA_IMPORT_WORKERS),
    dockerConfigDir: env.DOCKER_CONFIG ? path.resolve(env.DOCKER_CONFIG) : path.join(env.HOME || os.homedir(), '.docker'),
    registryTrust: {
      ...(env.SSL_CERT_FILE ? { caFile: env.SSL_CERT_FILE } : {}),
      ...(env.NODE_EXTRA_CA_CERTS ? { extraCaFile: env.NODE_EXTRA_CA_CERTS } : {}),
      certsDir: env.STRATA_CERTS_DIR
        ? path.resolve(env.STRATA_CERTS_DIR)
        : defaultCertsDir({ privileged, xdgConfigHome: env.XDG_CONFIG_HOME, home: env.HOME || os.homedir() }),
    },
    insecureRegistries: (env.STRATA_INSECURE_REGISTRIES ?? '').split(/[\s,]+/).filter((v) => v !== ''),
    lowSpeed: lowSpeedOf(env.STRATA_HTTP_LOW_SPEED_LIMIT, env.STRATA_HTTP_LOW_SPEED_TIME),
    runBase: defaultRunBase({ privileged, xdgRuntimeDir: env.XDG_RUNTIME_DIR }),
    ...(env.STRATA_RUNTIME ? { defaultRuntime: env.STRATA_RUNTIME } : {}),
  };
}

function whiteoutFormatOf(value: string | undefined): WhiteoutFormat | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'overlay' || value === 'oci') return value;
  throw new StrataError('EUSAGE', `STRATA_WHITEOUT_FORMAT must be "overlay" or "oci", not ${JSON.stringify(value)}`);
}

function lockTimeoutOf(value: string | undefined): number | undefined {
  const seconds = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

function importWorkersOf(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (Number.isInteger(n) && n >= 1 && n <= 256) return n;
  throw new StrataError('EUSAGE', `STRATA_IMPORT_WORKERS must be a whole number from 1 to 256, not ${JSON.stringify(value)}`);
}

function lowSpeedOf(limit: string | undefined, time: string | undefined): LowSpeedLimit {
  const bytesPerSecond = limit === undefined || limit === '' ? DEFAULT_LOW_SPEED.bytesPerSecond : Number(limit);
  if (!Number.isInteger(bytesPerSecond) || bytesPerSecond < 0) {
    throw new StrataError('EUSAGE', `STRATA_HTTP_LOW_SPEED_LIMIT must be a whole number of bytes per second, not ${JSON.stringify(limit)}`);
  }
  const seconds = time === undefined || time === '' ? DEFAULT_LOW_SPEED.windowMs / 1000 : Number(time);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new StrataError('EUSAGE', `STRATA_HTTP_LOW_SPEED_TIME must be a number of seconds above 0, not ${JSON.stringify(time)}`);
  }
  return { bytesPerSecond, windowMs: seconds * 1000 };
}
