import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { bundlePaths } from './bundle.js';

/**
 * Starts a container's process under a detached monitor (monitor.ts) and returns once
 * it runs — or throws what kept it from starting, with Docker's exit code in `found`
 * for a command that is not there (127) or cannot run (126).
 */
export async function startDetached(store: Store, id: string): Promise<void> {
  const monitor = fileURLToPath(new URL('./monitor.js', import.meta.url));
  // The monitor's own failures (a crash before it can report) land in the container's log.
  const log = fs.openSync(bundlePaths(store, id).containerLog, 'a', 0o640);
  const child = spawn(process.execPath, [monitor, store.root, id], { detached: true, stdio: ['ignore', 'ignore', log, 'pipe'] });
  fs.closeSync(log);
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  let text = '';
  pipe.setEncoding('utf8');
  for await (const chunk of pipe) {
    text += chunk as string;
    if (text.includes('\n')) break;
  }
  (pipe as unknown as { destroy(): void }).destroy();
  child.unref();
  const line = text.split('\n')[0] ?? '';
  if (line === 'started') return;
  const failed = /^failed (\d+) (.*)$/.exec(line);
  if (failed === null)
    throw new StrataError('EUSAGE', `container ${id}: its monitor ended without starting it (see \`strata logs ${id}\`)`, { path: id });
  const code = Number(failed[1]);
  throw new StrataError(code === 125 ? 'EUSAGE' : 'ECOMMAND', failed[2]!, { path: id, ...(code === 125 ? {} : { found: code }) });
}
