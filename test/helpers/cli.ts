import { PassThrough, Readable } from 'node:stream';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The repository root (tests run from dist/test/…). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Runs the CLI in-process against `root`, as a user would type `strata --root ROOT …args`. */
export async function strata(
  root: string,
  args: string[],
  options: { stdin?: Buffer | Readable; tty?: boolean; columns?: number } = {},
): Promise<CliResult> {
  const stdout = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
  const stderr = new PassThrough();
  if (options.tty) stdout.isTTY = true;
  if (options.columns !== undefined) stdout.columns = options.columns;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const stdin = options.stdin instanceof Readable ? options.stdin : Readable.from(options.stdin ? [options.stdin] : []);
  const code = await main(['--root', root, ...args], { stdout, stderr, stdin });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** Runs the real bin/strata.js in a child process, for exit codes, signals and stdin. */
export function strataProcess(
  root: string,
  args: string[],
  options: { stdin?: Buffer; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult & { signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'strata.js'), '--root', root, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code: code ?? -1, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
    child.stdin.end(options.stdin ?? Buffer.alloc(0));
  });
}
