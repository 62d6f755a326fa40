/**
 * A CLI process beside a library user: `node dist/test/helpers/cli-loop-worker.js '<job json>'`
 * runs strata commands one after another through the CLI's own entry (main(), in this
 * process, so a command costs milliseconds, not a node start) and prints one JSON line:
 * each command's exit code and stderr.
 */
import { PassThrough, Readable } from 'node:stream';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { main } from '../../src/cli/main.js';

export interface CliLoopCommand {
  args: string[];
  /** stdin: `text` + newline repeated to `bytes`, fed in CHUNK-sized pieces. */
  stdin?: { text: string; bytes: number };
}

export interface CliLoopJob {
  root: string;
  commands: CliLoopCommand[];
}

export interface CliLoopResult {
  args: string[];
  code: number;
  stderr: string;
}

export const CHUNK = 16 * 1024;

/** The bytes a writer named `text` writes: `text\n` over and over, cut at `bytes`. */
export function filled(text: string, bytes: number): Buffer {
  const line = Buffer.from(`${text}\n`);
  const out = Buffer.alloc(bytes);
  for (let at = 0; at < bytes; at += line.length) line.copy(out, at);
  return out;
}

/** The same bytes as a stream of chunks, yielding to the event loop between them, as a slow pipe would. */
export async function* filledChunks(text: string, bytes: number): AsyncGenerator<Buffer> {
  const all = filled(text, bytes);
  for (let at = 0; at < bytes; at += CHUNK) {
    yield all.subarray(at, Math.min(at + CHUNK, bytes));
    await yieldToLoop();
  }
}

async function run(root: string, command: CliLoopCommand): Promise<CliLoopResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const err: Buffer[] = [];
  stdout.resume();
  stderr.on('data', (c: Buffer) => err.push(c));
  const stdin = command.stdin ? Readable.from(filledChunks(command.stdin.text, command.stdin.bytes)) : Readable.from([]);
  const code = await main(['--root', root, ...command.args], { stdout, stderr, stdin });
  process.exitCode = undefined;
  return { args: command.args, code, stderr: Buffer.concat(err).toString() };
}

// Run as a script only: the test imports filled() from here too.
if (process.argv[1]?.endsWith('cli-loop-worker.js')) {
  const job = JSON.parse(process.argv[2]!) as CliLoopJob;
  const results: CliLoopResult[] = [];
  for (const command of job.commands) results.push(await run(job.root, command));
  process.stdout.write(`${JSON.stringify(results)}\n`);
}
