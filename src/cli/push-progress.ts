import type cliProgressModule from 'cli-progress';
import type { PushEvent } from '../transfer/push.js';
import type { CliContext } from './context.js';
import { barPayload, layerMultiBar } from './progress.js';

export interface PushOutput {
  onEvent: (event: PushEvent) => void;
  stop: () => void;
}

/**
 * What `push` shows about its layers, top layer first as Docker does: on a terminal a
 * bar a layer (Preparing, Pushing, Pushed); piped, `ID: Preparing` for each and then
 * `ID: Pushed`, `ID: Layer already exists` or `ID: Mounted from REPO` in the same order
 * (uploads finish in any order, the lines do not). Nothing with -q.
 */
export function pushOutput(ctx: CliContext, header: string, quiet?: boolean): PushOutput | undefined {
  if (quiet) return undefined;
  return ctx.interactive() ? pushBars(ctx, header) : pushLines(ctx, header);
}

function outcomeText(event: Extract<PushEvent, { type: 'layer-done' }>): string {
  if (event.mountedFrom) return `Mounted from ${event.mountedFrom}`;
  return event.outcome === 'pushed' ? 'Pushed' : 'Layer already exists';
}

function pushLines(ctx: CliContext, header: string): PushOutput {
  let order: string[] = [];
  const outcomes = new Map<string, string>();
  let next = 0;
  return {
    onEvent(event) {
      if (event.type === 'layers') {
        ctx.print(header);
        order = [...event.ids].reverse();
        for (const id of order) ctx.print(`${id}: Preparing`);
      } else if (event.type === 'layer-done') {
        outcomes.set(event.id, outcomeText(event));
        for (; next < order.length && outcomes.has(order[next]!); next++) ctx.print(`${order[next]}: ${outcomes.get(order[next]!)}`);
      }
    },
    stop: () => {},
  };
}

function pushBars(ctx: CliContext, header: string): PushOutput {
  let bars: cliProgressModule.MultiBar | undefined;
  const active = new Map<string, { bar: cliProgressModule.SingleBar; total: number; started: number }>();
  return {
    onEvent(event) {
      if (event.type === 'layers') {
        ctx.print(header);
        bars = layerMultiBar(ctx);
        for (const id of [...event.ids].reverse()) {
          active.set(id, { bar: bars.create(1, 0, { id, status: 'Preparing' }, { format: '{id}: {status}' }), total: 0, started: 0 });
        }
        return;
      }
      const entry = active.get(event.id);
      if (!entry || !bars) return;
      if (event.type === 'layer-start') {
        entry.bar.stop();
        bars.remove(entry.bar);
        entry.started = Date.now();
        entry.total = event.total;
        entry.bar = bars.create(event.total, 0, { id: event.id, ...barPayload(0, event.total, entry.started, 'Pushing') });
      } else if (event.type === 'layer-progress') {
        entry.bar.update(event.done, barPayload(event.done, entry.total, entry.started, 'Pushing'));
      } else if (entry.total > 0) {
        entry.bar.update(entry.total, barPayload(entry.total, entry.total, entry.started, outcomeText(event)));
      } else {
        entry.bar.update(1, { id: event.id, status: outcomeText(event) });
      }
    },
    stop: () => bars?.stop(),
  };
}
