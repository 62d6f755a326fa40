import fs from 'node:fs';
import path from 'node:path';
import { sharedDir } from './shared.js';

/**
 * Reads what real Docker printed, from ../shared/conformance/docker/*.txt: a file
 * is a sequence of `$ command` lines, each followed by its output and `[exit N]`.
 */
export interface RecordedCommand {
  command: string;
  output: string[];
  exit: number;
}

export function readDockerRecord(name: string): RecordedCommand[] {
  const file = path.join(sharedDir, 'conformance', 'docker', name);
  const out: RecordedCommand[] = [];
  let current: RecordedCommand | null = null;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('$ ')) {
      current = { command: line.slice(2), output: [], exit: -1 };
      out.push(current);
    } else if (current && /^\[exit \d+\]$/.test(line)) {
      current.exit = Number(line.slice(6, -1));
      current = null;
    } else if (current) {
      current.output.push(line);
    }
  }
  return out;
}
