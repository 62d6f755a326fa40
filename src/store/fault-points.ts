import fs from 'node:fs';

/**
 * Named crash points, for the durability tests only. Code that reaches a step worth
 * crashing at calls `faultPoint('ingest.commit')`; with STRATA_TEST_PAUSE_AT unset
 * that is a call and a null check, nothing more.
 *
 * With STRATA_TEST_PAUSE_AT set, every hit prints `strata-fault-point <seq> <name>`
 * on stderr (written synchronously, so a test that reads it knows the process got
 * there), and the hit the spec names freezes the whole process — event loop
 * included — so a test can SIGKILL it exactly there, or send a signal that is
 * handled only once the pause ends. Spec grammar:
 *   trace                 print every hit, never pause
 *   <n>[:<ms>]            pause at the n-th hit of any point
 *   <name>[#<n>][:<ms>]   pause at the n-th (default first) hit of that point
 * The pause lasts <ms> milliseconds (default 60 s: longer than any test waits).
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
const spec = parseSpec(process.env.STRATA_TEST_PAUSE_AT);
let seq = 0;
const perName = new Map<string, number>();

export function faultPoint(name: string): void {
  if (spec === undefined) return;
  hit(name, spec);
}

function hit(name: string, pause: PauseSpec | null): void {
  seq++;
  const count = (perName.get(name) ?? 0) + 1;
  perName.set(name, count);
  fs.writeSync(2, `strata-fault-point ${seq} ${name}\n`);
  if (pause === null) return;
  const due = pause.name === null ? seq === pause.nth : pause.name === name && count === pause.nth;
  if (due && pause.ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause.ms);
}

function parseSpec(value: string | undefined): PauseSpec | null | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'trace') return null;
  const m = /^([^#:]+)(?:#(\d+))?(?::(\d+))?$/.exec(value);
  if (!m) throw new Error(`STRATA_TEST_PAUSE_AT: cannot parse ${JSON.stringify(value)}`);
  const ms = m[3] === undefined ? 60_000 : Number(m[3]);
  if (/^\d+$/.test(m[1]!)) return { name: null, nth: Number(m[1]), ms };
  return { name: m[1]!, nth: m[2] === undefined ? 1 : Number(m[2]), ms };
}
