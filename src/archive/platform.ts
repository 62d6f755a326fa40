import os from 'node:os';
import { StrataError } from '../errors.js';

/** An OCI platform as image indexes describe it (`os`, `architecture`, optional `variant`). */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Node's names for CPUs → the OCI/Go names image indexes use. */
const NODE_ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: os.endianness() === 'LE' ? 'ppc64le' : 'ppc64',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips64el: 'mips64le',
  mipsel: 'mipsle',
};

/** Spellings users and tools write for the same architecture (`uname -m` style). */
const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
  i686: '386',
};

/**
 * The platform a container started here would run: Linux even on macOS (Docker
 * Desktop runs a Linux VM), Windows only on Windows; the CPU from node.
 */
export function hostPlatform(): Platform {
  const osName = process.platform === 'win32' ? 'windows' : 'linux';
  const architecture = NODE_ARCH[process.arch] ?? process.arch;
  if (architecture === 'arm64') return { os: osName, architecture, variant: 'v8' };
  if (architecture === 'arm') {
    const version = (process.config.variables as Record<string, unknown>).arm_version;
    return { os: osName, architecture, variant: `v${typeof version === 'string' || typeof version === 'number' ? version : '7'}` };
  }
  return { os: osName, architecture };
}

/** Parses `os/arch[/variant]` (as `--platform` takes it); a malformed value is EUSAGE. */
export function parsePlatform(value: string): Platform {
  const parts = value.trim().toLowerCase().split('/');
  const valid = (s: string | undefined) => s !== undefined && /^[a-z0-9._-]+$/.test(s);
  if (parts.length < 2 || parts.length > 3 || !parts.every(valid)) {
    throw new StrataError('EUSAGE', `invalid platform ${JSON.stringify(value)} (want os/arch[/variant], e.g. linux/arm64)`);
  }
  const [osName, arch, variant] = parts as [string, string, string?];
  return normalizePlatform({ os: osName, architecture: arch, ...(variant ? { variant } : {}) });
}

/** Canonical spelling, so `linux/aarch64` and `linux/arm64/v8` compare equal. */
export function normalizePlatform(p: Platform): Platform {
  const architecture = ARCH_ALIASES[p.architecture] ?? p.architecture;
  let variant = p.variant || undefined;
  if (architecture === 'arm64' && (variant === undefined || variant === '8')) variant = 'v8';
  if (architecture === 'arm' && variant !== undefined && /^\d$/.test(variant)) variant = `v${variant}`;
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  return { os: p.os, architecture, ...(variant ? { variant } : {}) };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * How well `candidate` serves `want`: 0 = not at all, higher = better. A wanted
 * variant must match, except that an ARM CPU also runs older ARM variants
 * (v7 runs v6 and v5), preferring the newest — containerd's rule. With no wanted
 * variant any variant of the architecture will do.
 */
export function platformScore(candidate: Platform, want: Platform): number {
  const c = normalizePlatform(candidate);
  const w = normalizePlatform(want);
  if (c.os !== w.os || c.architecture !== w.architecture) return 0;
  if (w.variant === undefined || c.variant === w.variant) return 100;
  if (c.architecture === 'arm') {
    const have = Number(c.variant?.slice(1) ?? 7);
    const need = Number(w.variant.slice(1));
    if (have <= need) return 100 - (need - have);
  }
  return 0;
}
