import fs from 'node:fs';

/**
 * Named crash points, for the durability tests only. Code that reaches a step worth
 * crashing at calls `faultPoint('ingest.commit')`; with STRATA_TEST_PAUSE_AT unset
 * that is a call and a null check, nothing more.
 *
 * With STRATA_TEST_PAUSE_AT set, every hit prints `strata-fault-point <seq> <name>`
 * on stderr (written synchronously, so a test that reads it knows the process got
 * there), and a hit the spec names freezes its thread — on the main thread the whole
 * event loop, in a layer import worker that worker — so a test can SIGKILL the
 * process exactly there, or send a signal that is handled only once the pause ends.
 * Spec grammar, one or more specs separated by commas:
 *   trace                 print every hit, never pause
 *   <n>[:<ms>]            pause at the n-th hit of any point
 *   <name>[#<n>][:<ms>]   pause at the n-th (default first) hit of that point
 * The pause lasts <ms> milliseconds (default 60 s: longer than any test waits).
 *
 * Hits are counted for the whole process: the import workers (layer/import-pool.ts)
 * share the counters through shareFaultPointCounters, so `<n>` and `#<n>` mean the
 * same with one thread or several.
 */
interface PauseSpec {
  name: string | null;
  nth: number;
  ms: number;
}

// Read here, not at the CLI edge, and kept module-wide: the points sit deep in code
// that takes no options for them (atomic writes, locks, leases), a test must be able
// to freeze any strata process it starts, CLI or library, and the hit counts are
// about the whole process, not any one store or command.
const specs = parseSpecs(process.env.STRATA_TEST_PAUSE_AT);

/** Slot 0: hits of any point; then NAME_SLOTS pairs of (name hash, hits of that name). */
const NAME_SLOTS = 128;
let counters = new Int32Array(new SharedArrayBuffer(4 * (1 + 2 * NAME_SLOTS)));

export function faultPoint(name: string): void {
  if (specs === undefined) return;
  hit(name, specs);
}

/** The counters to hand to a worker thread, or undefined when fault points are off. */
export function faultPointCounters(): SharedArrayBuffer | undefined {
  return specs === undefined ? undefined : (counters.buffer as SharedArrayBuffer);
}

/** Called first thing in a worker thread with what faultPointCounters() gave its parent. */
export function shareFaultPointCounters(shared: SharedArrayBuffer | undefined): void {
  if (shared !== undefined) counters = new Int32Array(shared);
}

function hit(name: string, pauses: PauseSpec[]): void {
  const seq = Atomics.add(counters, 0, 1) + 1;
  const count = countName(name);
  fs.writeSync(2, `strata-fault-point ${seq} ${name}\n`);
  const due = pauses.find((p) => (p.name === null ? seq === p.nth : p.name === name && count === p.nth));
  if (due !== undefined && due.ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, due.ms);
}

/** Open addressing on a 32-bit FNV-1a hash of the name, claimed with compare-and-swap. */
function countName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  h = h | 1; // never 0, which marks a free slot
  for (let probe = 0; probe < NAME_SLOTS; probe++) {
    const slot = 1 + 2 * ((((h >>> 0) % NAME_SLOTS) + probe) % NAME_SLOTS);
    const owner = Atomics.compareExchange(counters, slot, 0, h);
    if (owner === 0 || owner === h) return Atomics.add(counters, slot + 1, 1) + 1;
  }
  throw new Error(`fault points: more than ${NAME_SLOTS} point names`);
}

function parseSpecs(value: string | undefined): PauseSpec[] | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'trace') return [];
  return value.split(',').map(parseSpec);
}

function parseSpec(value: string): PauseSpec {
  const m = /^([^#:]+)(?:#(\d+))?(?::(\d+))?$/.exec(value);
  if (!m) throw new Error(`STRATA_TEST_PAUSE_AT: cannot parse ${JSON.stringify(value)}`);
  const ms = m[3] === undefined ? 60_000 : Number(m[3]);
  if (/^\d+$/.test(m[1]!)) return { name: null, nth: Number(m[1]), ms };
  return { name: m[1]!, nth: m[2] === undefined ? 1 : Number(m[2]), ms };
}
