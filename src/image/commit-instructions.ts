import { StrataError } from '../errors.js';

/** The part of an image config (`config`) that `-c`/`--change` instructions write. */
export interface ContainerConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Labels?: Record<string, string>;
}

const SUPPORTED = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'USER', 'WORKDIR'];

/**
 * Applies Dockerfile-syntax instructions (`-c 'CMD ["sh"]'`, `-c 'ENV A=1'`), in order,
 * to `config`, as `docker import --change` and `docker commit --change` do.
 */
export function applyInstructions(config: ContainerConfig, instructions: string[]): ContainerConfig {
  for (const line of instructions) applyInstruction(config, line);
  return config;
}

function applyInstruction(config: ContainerConfig, line: string): void {
  const match = /^\s*(\S+)\s*(.*?)\s*$/s.exec(line);
  if (!match) throw usage(`empty instruction: ${JSON.stringify(line)}`);
  const keyword = match[1]!.toUpperCase();
  const rest = match[2]!;
  if (!SUPPORTED.includes(keyword)) {
    throw usage(`${match[1]} is not a supported change instruction (use one of ${SUPPORTED.join(', ')})`);
  }
  if (rest === '') throw usage(`${keyword} requires an argument`);
  switch (keyword) {
    case 'CMD':
      config.Cmd = commandForm(keyword, rest);
      break;
    case 'ENTRYPOINT':
      config.Entrypoint = commandForm(keyword, rest);
      break;
    case 'ENV':
      for (const [key, value] of pairs(keyword, rest)) {
        const env = (config.Env ?? []).filter((e) => e.split('=')[0] !== key);
        env.push(`${key}=${value}`);
        config.Env = env;
      }
      break;
    case 'LABEL':
      for (const [key, value] of pairs(keyword, rest)) config.Labels = { ...config.Labels, [key]: value };
      break;
    case 'WORKDIR':
      config.WorkingDir = rest;
      break;
    case 'USER':
      config.User = rest;
      break;
    case 'EXPOSE':
      for (const port of rest.split(/\s+/)) {
        if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(port)) throw usage(`EXPOSE: invalid port ${JSON.stringify(port)}`);
        const name = port.includes('/') ? port.toLowerCase() : `${port}/tcp`;
        config.ExposedPorts = { ...config.ExposedPorts, [name]: {} };
      }
      break;
  }
}

/** JSON array (exec form) as is; anything else (shell form) runs under `/bin/sh -c`. */
function commandForm(keyword: string, rest: string): string[] {
  if (rest.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rest);
    } catch {
      parsed = undefined;
    }
    if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return parsed as string[];
  }
  if (keyword === 'CMD' || keyword === 'ENTRYPOINT') return ['/bin/sh', '-c', rest];
  return [rest];
}

/** `k=v k2="v 2"`, or the legacy one-pair form `k v…`. */
function pairs(keyword: string, rest: string): [string, string][] {
  const words = splitWords(rest);
  if (!words[0]!.includes('=')) {
    const space = /\s/.exec(rest);
    if (!space) throw usage(`${keyword} ${rest}: missing a value (write ${keyword} key=value)`);
    return [[rest.slice(0, space.index), rest.slice(space.index).trim()]];
  }
  return words.map((word) => {
    const eq = word.indexOf('=');
    if (eq <= 0) throw usage(`${keyword}: ${JSON.stringify(word)} is not key=value`);
    return [word.slice(0, eq), word.slice(eq + 1)];
  });
}

/** Splits on unquoted whitespace, removing double or single quotes and backslash escapes. */
function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote: string | null = null;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && quote !== "'" && i + 1 < text.length) {
      word += text[++i];
      started = true;
    } else if (quote) {
      if (c === quote) quote = null;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (/\s/.test(c)) {
      if (started) words.push(word);
      word = '';
      started = false;
    } else {
      word += c;
      started = true;
    }
  }
  if (quote) throw usage(`unterminated quote in ${JSON.stringify(text)}`);
  if (started) words.push(word);
  return words;
}

function usage(message: string): StrataError {
  return new StrataError('EUSAGE', message);
}
