/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and says where the main thread's time
 * went, by area (tar parsing, streams, hashing, strata's own code…) and by function.
 * Native frames without a script (Hash.update, fs bindings) are charged to the
 * script that called them. Work on the thread pool (zlib, fs) is not in a main-thread
 * profile: there it shows as "(idle)" while the main thread waits for it.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const AREAS: Array<[RegExp, string]> = [
  [/node_modules\/(tar-stream|streamx|b4a|fast-fifo|text-decoder|bare-events)\//, 'tar-stream parsing (+ streamx)'],
  [/node_modules\/ssri\//, 'ssri (blob digest stream)'],
  [/node_modules\//, 'other dependencies'],
  [/^node:internal\/crypto\//, 'sha256 hashing'],
  [/^node:zlib$|^node:internal\/zlib/, 'zlib (JS side; inflate itself runs on the thread pool)'],
  [/^node:internal\/streams\//, 'node streams'],
  [/^node:fs$|^node:internal\/fs\//, 'file system calls (sync ones run on the main thread)'],
  [/^node:buffer$|^node:internal\/buffer/, 'buffer allocation'],
  [/^node:internal\/(process\/task_queues|async_hooks|promise)/, 'promise and tick machinery'],
  [/^node:/, 'other node internals'],
];

function area(url: string, repoRoot: string): string {
  for (const [pattern, name] of AREAS) if (pattern.test(url)) return name;
  if (url.startsWith('file://')) {
    const rel = path.relative(repoRoot, fileURLToPath(url));
    return rel.startsWith('dist/src/') ? `strata ${rel.slice('dist/src/'.length)}` : rel;
  }
  return url || '(native)';
}

/** Lines of text: time per area, then the functions with the most self time. */
export async function summarizeCpuProfile(file: string, repoRoot: string, top = 12): Promise<string[]> {
  const profile = JSON.parse(await fsp.readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const areaOf = new Map<number, string>();
  const labelOf = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = areaOf.get(id);
    if (known !== undefined) return known;
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    let result: string;
    if (url) result = area(url, repoRoot);
    else if (/^\((idle|program|garbage collector|root)\)$/.test(functionName)) result = functionName;
    else result = parent.has(id) ? resolve(parent.get(id)!) : '(native)';
    areaOf.set(id, result);
    const where = url ? `${path.basename(url)}:${lineNumber + 1}` : 'native';
    labelOf.set(id, `${functionName || '(anonymous)'} [${where}] — ${result}`);
    return result;
  };

  const perArea = new Map<string, number>();
  const perFunction = new Map<string, number>();
  let total = 0;
  for (const [i, id] of profile.samples.entries()) {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const a = resolve(id);
    perArea.set(a, (perArea.get(a) ?? 0) + dt);
    const label = labelOf.get(id)!;
    perFunction.set(label, (perFunction.get(label) ?? 0) + dt);
  }
  const fmt = ([name, ms]: [string, number]) =>
    `${(ms / 1000).toFixed(2).padStart(7)} s ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${name}`;
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return [
    `main thread ${(total / 1000).toFixed(2)} s, by area:`,
    ...sorted(perArea)
      .filter(([, ms]) => ms / total >= 0.005)
      .map(fmt),
    `top ${top} functions by self time:`,
    ...sorted(perFunction).slice(0, top).map(fmt),
  ];
}
