/**
 * Rounds of contenders whose every run writes a fresh output tree (load, pull): one
 * warm-up round, then `ctx.runs` measured ones, the contenders interleaved in each so
 * a drift of the machine touches them all alike.
 */
import path from 'node:path';
import {
  INODE_REUSE_COOLDOWN_S,
  freeBytes,
  measure,
  removeTree,
  settleDisk,
  waitOutRecentDeletes,
  type Command,
  type Sample,
} from './measure.js';
import type { BenchContext } from './report.js';

export interface OutputContender {
  name: string;
  describe: string;
  /** The command for one run, writing into the fresh path `target` (which does not exist yet). */
  command(target: string): Promise<Command>;
  /** Checks a run's output (outside the timing): a fast wrong answer is no answer. */
  verify(target: string): Promise<void>;
}

export interface InterleavedSamples {
  /** The measured runs of each contender, by name (the warm-up left out). */
  samples: Map<string, Sample[]>;
  /** The report's note on whether outputs were kept or deleted between runs. */
  outputsNote: string;
}

/**
 * Outputs are kept until the end when the disk has room: deleting ~50,000 files
 * between runs makes the next run pay for it (INODE_REUSE_COOLDOWN_S). Without the
 * room, each output is deleted at once and the next run waits out the cool-down.
 * `outputBytes` is what one run writes, about.
 */
export async function runInterleaved(
  ctx: BenchContext,
  scratch: string,
  contenders: OutputContender[],
  outputBytes: number,
): Promise<InterleavedSamples> {
  const needed = (ctx.runs + 1) * contenders.length * outputBytes * 1.6 + 2 * 1024 ** 3;
  const keepOutputs = (await freeBytes(scratch)) > needed;
  if (!keepOutputs)
    ctx.log(`not enough free disk to keep every run's output: deleting each, then waiting ${INODE_REUSE_COOLDOWN_S} s before the next run`);
  const nameWidth = Math.max(...contenders.map((c) => c.name.length));
  const samples = new Map<string, Sample[]>(contenders.map((c) => [c.name, []]));
  await waitOutRecentDeletes(ctx.log); // an earlier benchmark's clean-up, or a set-up step, may have deleted trees
  for (let round = 0; round <= ctx.runs; round++) {
    for (const [n, c] of contenders.entries()) {
      const target = path.join(scratch, `run-${round}-${n}`);
      const command = await c.command(target);
      await settleDisk();
      const sample = await measure(command, scratch);
      await c.verify(target);
      if (!keepOutputs) {
        await removeTree(target);
        await waitOutRecentDeletes(ctx.log);
      }
      if (round > 0) samples.get(c.name)!.push(sample);
      ctx.log(
        `${round === 0 ? 'warm-up' : `run ${round}/${ctx.runs}`}  ${c.name.padEnd(nameWidth)} ${sample.wallS.toFixed(2)} s  ${sample.peakRssMiB.toFixed(1)} MiB`,
      );
    }
  }
  return {
    samples,
    outputsNote: keepOutputs
      ? 'run outputs were kept until the end (no deletes between runs: see INODE_REUSE_COOLDOWN_S)'
      : `each run's output was deleted right after it, then ${INODE_REUSE_COOLDOWN_S} s of cool-down (not enough free disk to keep them)`,
  };
}
