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
  Volumes?: Record<string, Record<string, never>>;
  StopSignal?: string;
  OnBuild?: string[];
}

/** What `docker import --change` takes (measured on Docker 20.10: STOPSIGNAL is refused there), less HEALTHCHECK. */
const IMPORT_SET = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR'];
/** moby's validCommitCommands, less HEALTHCHECK. */
const COMMIT_SET = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'];

export interface InstructionOptions {
  /** `docker commit --change`: STOPSIGNAL too. */
  commit?: boolean;
}

/**
 * Applies Dockerfile-syntax instructions (`-c 'CMD ["sh"]'`, `-c 'ENV A=1'`), in order,
 * to `config`, as `docker import --change` and `docker commit --change` do: both run
 * them through Docker's builder, so `$VAR`/`${VAR}` references in ENV, LABEL, WORKDIR,
 * USER, EXPOSE, VOLUME and STOPSIGNAL are expanded against the config's Env as it stands
 * before each instruction (`ENV PATH=/usr/bin:$PATH`), and ENV replaces a variable where
 * it stands. CMD, ENTRYPOINT and ONBUILD are kept as written.
 */
export function applyInstructions(config: ContainerConfig, instructions: string[], options: InstructionOptions = {}): ContainerConfig {
  const state = { commit: options.commit === true, cmdSet: false };
  for (const line of instructions) applyInstruction(config, line, state);
  return config;
}

/** `cmdSet`: a CMD came earlier in this list, which a later ENTRYPOINT keeps (Docker's builder state). */
function applyInstruction(config: ContainerConfig, line: string, state: { commit: boolean; cmdSet: boolean }): void {
  const { commit } = state;
  const match = /^\s*(\S+)\s*(.*?)\s*$/s.exec(line);
  if (!match) throw usage(`empty instruction: ${JSON.stringify(line)}`);
  const keyword = match[1]!.toUpperCase();
  const rest = match[2]!;
  const supported = commit ? COMMIT_SET : IMPORT_SET;
  if (!supported.includes(keyword)) {
    throw usage(`${match[1]} is not a supported change instruction (use one of ${supported.join(', ')})`);
  }
  if (rest === '') throw usage(`${keyword} requires an argument`);
  // Every reference in one instruction sees the Env from before it (ENV A=1 B=$A takes the old A).
  const env = envMap(config.Env ?? []);
  const word = (text: string) => lex(text, env, false)[0] ?? '';
  switch (keyword) {
    case 'CMD':
      config.Cmd = commandForm(keyword, rest);
      state.cmdSet = true;
      break;
    case 'ENTRYPOINT':
      config.Entrypoint = commandForm(keyword, rest);
      // As the builder: a new entrypoint drops the inherited Cmd, not one given before it.
      if (!state.cmdSet) delete config.Cmd;
      break;
    case 'ENV':
      for (const [key, value] of pairs(keyword, rest, env)) {
        const current = config.Env ?? [];
        const at = current.findIndex((e) => e.split('=')[0] === key);
        config.Env = at >= 0 ? current.map((e, i) => (i === at ? `${key}=${value}` : e)) : [...current, `${key}=${value}`];
      }
      break;
    case 'LABEL':
      for (const [key, value] of pairs(keyword, rest, env)) config.Labels = { ...config.Labels, [key]: value };
      break;
    case 'WORKDIR':
      config.WorkingDir = word(rest);
      break;
    case 'USER':
      config.User = word(rest);
      break;
    case 'EXPOSE':
      for (const port of lex(rest, env, true)) {
        if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(port)) throw usage(`EXPOSE: invalid port ${JSON.stringify(port)}`);
        const name = port.includes('/') ? port.toLowerCase() : `${port}/tcp`;
        config.ExposedPorts = { ...config.ExposedPorts, [name]: {} };
      }
      break;
    case 'VOLUME':
      for (const volume of jsonList(rest) ?? lex(rest, env, true)) {
        if (volume.trim() === '') throw usage('VOLUME specified can not be an empty string');
        config.Volumes = { ...config.Volumes, [volume]: {} };
      }
      break;
    case 'STOPSIGNAL': {
      const signal = word(rest);
      if (!/^(\d+|(SIG)?[A-Z][A-Z0-9]*([+-]\d+)?)$/i.test(signal)) throw usage(`STOPSIGNAL: invalid signal ${JSON.stringify(signal)}`);
      config.StopSignal = signal;
      break;
    }
    case 'ONBUILD': {
      const trigger = /^\S+/.exec(rest)![0].toUpperCase();
      if (trigger === 'ONBUILD') throw usage("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === 'FROM' || trigger === 'MAINTAINER') throw usage(`${trigger} isn't allowed as an ONBUILD trigger`);
      config.OnBuild = [...(config.OnBuild ?? []), rest];
      break;
    }
  }
}

/** A JSON array of strings (the exec form), or null for anything else. */
function jsonList(rest: string): string[] | null {
  if (!rest.startsWith('[')) return null;
  try {
    const parsed: unknown = JSON.parse(rest);
    return Array.isArray(parsed) && parsed.every((p) => typeof p === 'string') ? (parsed as string[]) : null;
  } catch {
    return null;
  }
}

function envMap(env: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq > 0) map.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return map;
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

/** `k=v k2="v 2"`, or the legacy one-pair form `k v…`; references in the values expanded from `env`. */
function pairs(keyword: string, rest: string, env: Map<string, string>): [string, string][] {
  const words = lex(rest, env, true);
  if (!words[0]!.includes('=')) {
    const space = /\s/.exec(rest);
    if (!space) throw usage(`${keyword} ${rest}: missing a value (write ${keyword} key=value)`);
    const value = rest.slice(space.index).trim();
    return [[rest.slice(0, space.index), lex(value, env, false)[0] ?? '']];
  }
  return words.map((word) => {
    const eq = word.indexOf('=');
    if (eq <= 0) throw usage(`${keyword}: ${JSON.stringify(word)} is not key=value`);
    return [word.slice(0, eq), word.slice(eq + 1)];
  });
}

/**
 * The builder's word lexer: removes double and single quotes and backslash escapes,
 * splits on unquoted whitespace when `split`, and replaces `$NAME`,
 * `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}` and `${NAME+word}`
 * outside single quotes (an unset name is empty).
 */
function lex(text: string, env: Map<string, string>, split: boolean): string[] {
  const words: string[] = [];
  let word = '';
  let quote: string | null = null;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '$' && quote !== "'") {
      const ref = reference(text, i, env);
      if (ref !== null) {
        word += ref.value;
        started = true;
        i = ref.end - 1;
        continue;
      }
    }
    if (c === '\\' && quote !== "'" && i + 1 < text.length) {
      word += text[++i];
      started = true;
    } else if (quote) {
      if (c === quote) quote = null;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (split && /\s/.test(c)) {
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

/** The variable reference at `text[at]` (a `$`): its value and where it ends; null for a lone `$`. */
function reference(text: string, at: number, env: Map<string, string>): { value: string; end: number } | null {
  const plain = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(at + 1));
  if (plain) return { value: env.get(plain[0]) ?? '', end: at + 1 + plain[0].length };
  if (text[at + 1] !== '{') return null;
  const close = text.indexOf('}', at + 2);
  if (close < 0) throw usage(`missing '}' in ${JSON.stringify(text)}`);
  const braced = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])(.*))?$/s.exec(text.slice(at + 2, close));
  if (!braced) throw usage(`bad substitution in ${JSON.stringify(text)}`);
  const [, name, modifier, alternative = ''] = braced;
  const value = env.get(name!);
  const set = modifier?.startsWith(':') ? value !== undefined && value !== '' : value !== undefined;
  const other = () => lex(alternative, env, false)[0] ?? '';
  let result = value ?? '';
  if (modifier?.endsWith('-') && !set) result = other();
  if (modifier?.endsWith('+')) result = set ? other() : '';
  return { value: result, end: close + 1 };
}

function usage(message: string): StrataError {
  return new StrataError('EUSAGE', message);
}
