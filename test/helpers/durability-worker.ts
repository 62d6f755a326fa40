/**
 * One of the concurrency test's processes: `node dist/test/helpers/durability-worker.js '<job json>'`.
 * It runs strata commands through the CLI's own entry (main(), in this process, so a
 * command costs milliseconds, not a node start) in a loop until the deadline, and
 * prints one JSON line: every command that failed other than with a documented
 * conflict, and what its surviving containers must hold.
 */
import { PassThrough, Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { main } from '../../src/cli/main.js';

export interface WorkerJob {
  root: string;
  worker: number;
  deadline: number;
  /** This worker's copy of each image: same content as the others' copies, its own tag. */
  tars: { path: string; tag: string; variant: string }[];
  /** A container every worker appends to, /shared.log being a file of its image. */
  shared: string;
}

export interface WorkerReport {
  worker: number;
  commands: number;
  conflicts: number;
  unexpected: { args: string[]; code: number; stderr: string }[];
  containers: { name: string; files: Record<string, string> }[];
  appended: string[];
}

const job = JSON.parse(process.argv[2]!) as WorkerJob;
const report: WorkerReport = { worker: job.worker, commands: 0, conflicts: 0, unexpected: [], containers: [], appended: [] };

/** Conflicts strata documents as the outcome of a race (`rmi` of an image a container uses). */
const DOCUMENTED_CONFLICT = /^strata: conflict: |^strata: Conflict\. /m;

async function run(args: string[], options: { stdin?: Buffer; mayConflict?: boolean } = {}): Promise<{ code: number; stdout: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main(['--root', job.root, ...args], { stdout, stderr, stdin: Readable.from(options.stdin ? [options.stdin] : []) });
  process.exitCode = undefined;
  report.commands++;
  const text = Buffer.concat(err).toString();
  if (code !== 0) {
    if (options.mayConflict && code === 1 && DOCUMENTED_CONFLICT.test(text)) report.conflicts++;
    else report.unexpected.push({ args, code, stderr: `${Buffer.concat(out).toString()}${text}` });
  }
  return { code, stdout: Buffer.concat(out).toString() };
}

const alive: { name: string; files: Record<string, string> }[] = [];
const loadedTags: string[] = [];
const w = job.worker;

for (let i = 0; Date.now() < job.deadline; i++) {
  const tar = job.tars[(w + i) % job.tars.length]!;
  await run(['load', '-q', '-i', tar.path]);
  loadedTags.push(tar.tag);
  const name = `w${w}-c${i}`;
  if ((await run(['create', '--name', name, tar.tag])).code === 0) {
    const files: Record<string, string> = {};
    for (const f of [0, 1]) {
      const content = `${name} ${f} ${randomBytes(8).toString('hex')}\n`.repeat(50 + f * 400);
      await run(['fs', 'write', name, `/app/f${f}`], { stdin: Buffer.from(content) });
      files[`/app/f${f}`] = content;
    }
    const read = await run(['fs', 'cat', name, '/app/f1']);
    if (read.stdout !== files['/app/f1'])
      report.unexpected.push({ args: ['fs', 'cat', name, '/app/f1'], code: 0, stderr: 'read back differs' });
    const variant = await run(['fs', 'cat', name, '/variant']);
    if (variant.stdout !== `${tar.variant}\n`)
      report.unexpected.push({
        args: ['fs', 'cat', name, '/variant'],
        code: 0,
        stderr: `image content is ${JSON.stringify(variant.stdout)}`,
      });
    alive.push({ name, files });
  }
  // Every worker appends to the same lower file of one container: copy-ups race unless
  // the fs command's container lock serialises them.
  const line = `w${w} ${i}\n`;
  const appended = await run(['fs', 'append', job.shared, '/shared.log'], { stdin: Buffer.from(line) });
  if (appended.code === 0) report.appended.push(line.trim());
  if (i % 3 === 0) {
    await run(['images', '--format', 'json']);
    await run(['ps', '-a', '-s', '--format', 'json']);
  }
  // Keep the newest container a while, so some rmi find their image still in use.
  while (alive.length > 1) await run(['rm', alive.shift()!.name]);
  if (loadedTags.length > 1) await run(['rmi', loadedTags.shift()!], { mayConflict: true });
  // Documented: an image a container uses cannot be removed without -f.
  if (i % 6 === w % 6) await run(['rmi', 'pinned:1'], { mayConflict: true });
  if (i % 4 === w % 4) await run(['gc', '-q', ...(i % 8 < 4 ? ['--grace', '0'] : [])]);
  if (i % 5 === w % 5) await run(['check']);
}
report.containers = alive;
process.stdout.write(`${JSON.stringify(report)}\n`);
