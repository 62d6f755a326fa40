import path from 'node:path';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { repoRoot } from './cli.js';

/** Prints the process's peak RSS (KiB) on stderr as it exits. */
const REPORT_MAX_RSS = `data:text/javascript,${encodeURIComponent(
  "import fs from 'node:fs'; process.on('exit', () => fs.writeSync(2, 'maxrss=' + process.resourceUsage().maxRSS + '\\n'));",
)}`;

export interface PeakRssRun {
  code: number | null;
  /** stdout as text, unless `onStdout` took it. */
  stdout: string;
  /** stderr without the peak RSS line. */
  stderr: string;
  peakRssMiB: number;
  wallS: number;
}

/**
 * Runs bin/strata.js in a child process and reports its peak RSS (the kernel's
 * ru_maxrss). stdin is fed from `stdin` with backpressure, so a generator can stand
 * for gigabytes that never exist as a file; `onStdout` takes stdout chunk by chunk
 * (hash or count it) so the test keeps none of it.
 */
export async function strataPeakRss(
  root: string,
  args: string[],
  options: { stdin?: AsyncIterable<Buffer> | Iterable<Buffer>; onStdout?: (chunk: Buffer) => void } = {},
): Promise<PeakRssRun> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, ['--import', REPORT_MAX_RSS, path.join(repoRoot, 'bin', 'strata.js'), '--root', root, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  if (options.onStdout) child.stdout.on('data', options.onStdout);
  else child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const closed = once(child, 'close') as Promise<[number | null]>;
  // A child that exits early (an error) stops reading: the write fails with EPIPE, and the exit says why.
  child.stdin.on('error', () => {});
  try {
    for await (const chunk of options.stdin ?? []) {
      if (child.stdin.destroyed) break;
      if (!child.stdin.write(chunk)) await Promise.race([once(child.stdin, 'drain'), closed]);
    }
  } finally {
    child.stdin.end();
  }
  const [code] = await closed;
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const lines = stderr.trimEnd().split('\n');
  const match = /^maxrss=(\d+)$/.exec(lines.at(-1) ?? '');
  if (match === null) throw new Error(`the child printed no peak RSS: ${stderr}`);
  const rest = lines.slice(0, -1).join('\n');
  return { code, stdout, stderr: rest === '' ? '' : `${rest}\n`, peakRssMiB: Number(match[1]) / 1024, wallS };
}
