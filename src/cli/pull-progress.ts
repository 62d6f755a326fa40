import type cliProgressModule from 'cli-progress';
import type { PullEvent } from '../transfer/pull.js';
import type { CliContext } from './context.js';
import { barPayload, layerMultiBar } from './progress.js';

export interface PullOutput {
  onEvent: (event: PullEvent) => void;
  stop: () => void;
}

/**
 * What `pull` shows about its layers, as Docker does. On a terminal, one bar a layer
 * (Waiting, Downloading, Extracting, Pull complete, Already exists): a layer unpacks
 * while it downloads, so "Extracting" is the stretch after its last byte, while the
 * digests are checked and the unpack finishes. Piped, one line per change
 * a script can read: `ID: Already exists` or `ID: Pulling fs layer` for every layer,
 * then `ID: Pull complete` in layer order (layers finish in any order, the lines do not).
 * Nothing at all with -q.
 */
export function pullOutput(ctx: CliContext, header: string, quiet?: boolean): PullOutput | undefined {
  if (quiet) return undefined;
  return ctx.interactive() ? pullBars(ctx, header) : pullLines(ctx, header);
}

function pullLines(ctx: CliContext, header: string): PullOutput {
  let order: { id: string; present: boolean }[] = [];
  const done = new Set<string>();
  let next = 0;
  const advance = () => {
    for (; next < order.length && done.has(order[next]!.id); next++)
      if (!order[next]!.present) ctx.print(`${order[next]!.id}: Pull complete`);
  };
  return {
    onEvent(event) {
      if (event.type === 'layers') {
        ctx.print(header);
        // An image already stored shows no layers, as Docker's "Image is up to date".
        order = event.imageStored ? [] : event.ids;
        for (const { id, present } of order) {
          ctx.print(`${id}: ${present ? 'Already exists' : 'Pulling fs layer'}`);
          if (present) done.add(id);
        }
        advance();
      } else if (event.type === 'layer-done') {
        done.add(event.id);
        advance();
      }
    },
    stop: () => {},
  };
}

function pullBars(ctx: CliContext, header: string): PullOutput {
  let bars: cliProgressModule.MultiBar | undefined;
  const active = new Map<string, { bar: cliProgressModule.SingleBar; started: number; total: number }>();
  return {
    onEvent(event) {
      if (event.type === 'layers') {
        ctx.print(header);
        bars = layerMultiBar(ctx);
        for (const { id, present } of event.imageStored ? [] : event.ids) {
          const bar = bars.create(1, present ? 1 : 0, { id, status: present ? 'Already exists' : 'Waiting' }, { format: '{id}: {status}' });
          if (!present) active.set(id, { bar, started: 0, total: 0 });
        }
        return;
      }
      const entry = active.get(event.id);
      if (!entry || !bars) return;
      if (event.type === 'layer-start') {
        // The waiting line becomes a bar: cli-progress keeps a bar's format, so replace it in place.
        entry.bar.stop();
        bars.remove(entry.bar);
        entry.started = Date.now();
        entry.total = event.total;
        entry.bar = bars.create(event.total, 0, { id: event.id, ...barPayload(0, event.total, entry.started, 'Downloading') });
      } else if (event.type === 'layer-progress') {
        entry.bar.update(event.done, barPayload(event.done, entry.total, entry.started, downloadStatus(event.done, entry.total)));
      } else {
        entry.bar.update(entry.total, barPayload(entry.total, entry.total, entry.started, 'Pull complete'));
      }
    },
    stop: () => bars?.stop(),
  };
}

/** A downloading layer's status: "Extracting" once every byte has come, until the layer is stored. */
export function downloadStatus(done: number, total: number): 'Downloading' | 'Extracting' {
  return done >= total ? 'Extracting' : 'Downloading';
}
