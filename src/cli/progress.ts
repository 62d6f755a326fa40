import { createRequire } from 'node:module';
import type cliProgressModule from 'cli-progress';
import type { LoadEvent } from '../transfer/load.js';
import type { CliContext } from './context.js';
import { humanSize } from './format.js';

let loaded: typeof cliProgressModule | undefined;

/** cli-progress is loaded only when a bar will be drawn: piped and scripted runs never pay for it. */
export function cliProgress(): typeof cliProgressModule {
  loaded ??= createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule;
  return loaded;
}

/** The bars of a command's layers (load, pull, push), laid out for the terminal's width. */
export function layerMultiBar(ctx: CliContext): cliProgressModule.MultiBar {
  return new (cliProgress().MultiBar)(
    {
      stream: ctx.io.stdout as NodeJS.WritableStream,
      ...loadBarLayout((ctx.io.stdout as { columns?: number }).columns ?? 80),
      hideCursor: true,
      clearOnComplete: false,
      fps: 10,
    },
    cliProgress().Presets.shades_classic,
  );
}

/** What a layer's bar shows besides the bar: bytes so far, size, rate and status. */
export function barPayload(done: number, total: number, started: number, status: string) {
  return {
    done: humanSize(done, 3),
    size: humanSize(total, 3),
    rate: `${humanSize(done / Math.max(0.001, (Date.now() - started) / 1000), 3)}/s`,
    status,
  };
}

/**
 * Per-layer progress for `load` on a terminal, one bar a layer with bytes and rate,
 * like `docker load`. Returns undefined (no output at all) when piped or quiet.
 */
export function loadProgress(ctx: CliContext, quiet?: boolean): { onEvent: (e: LoadEvent) => void; stop: () => void } | undefined {
  if (!ctx.interactive(quiet)) return undefined;
  const bars = layerMultiBar(ctx);
  const active = new Map<string, { bar: cliProgressModule.SingleBar; started: number; total: number }>();
  return {
    onEvent(event) {
      if (event.type === 'layer-start') {
        const total = event.total ?? 0;
        const bar = bars.create(total, 0, { id: event.id, ...barPayload(0, total, Date.now(), 'Loading layer') });
        active.set(event.id, { bar, started: Date.now(), total });
      } else if (event.type === 'layer-progress') {
        const entry = active.get(event.id);
        entry?.bar.update(event.done, barPayload(event.done, entry.total, entry.started, 'Loading layer'));
      } else {
        const entry = active.get(event.id);
        if (entry) entry.bar.update(entry.total, barPayload(entry.total, entry.total, entry.started, 'Loaded      '));
        else bars.create(1, 1, { id: event.id, status: `Already exists (${humanSize(event.size, 3)})` }, { format: '{id}: {status}' });
      }
    },
    stop: () => bars.stop(),
  };
}

/**
 * A layer's line must fit the terminal: a line longer than it is cut (cli-progress
 * turns auto-wrap off) or, where that is ignored, wraps and scrolls the bars away.
 * The text around the bar takes up to 56 columns (12-hex ID, status, sizes, rate);
 * the bar gets what is left; narrower terminals drop the bar, then the status.
 */
export function loadBarLayout(columns: number): { format: string; barsize: number } {
  const TEXT = 56;
  if (columns >= TEXT + 10) return { format: '{id}: {status} {bar} {done}/{size} {rate}', barsize: Math.min(30, columns - TEXT - 1) };
  if (columns >= 46) return { format: '{id}: {status} {done}/{size}', barsize: 0 };
  return { format: '{id}: {done}/{size}', barsize: 0 };
}

/** One bar while `system df` or `gc` walks containers and volumes; terminal only. */
export function dfProgress(
  ctx: CliContext,
  quiet?: boolean,
): { update: (done: number, total: number) => void; stop: () => void } | undefined {
  if (!ctx.interactive(quiet)) return undefined;
  const bar = new (cliProgress().SingleBar)(
    {
      stream: ctx.io.stdout as NodeJS.WritableStream,
      format: 'Measuring {bar} {value}/{total}',
      clearOnComplete: true,
      hideCursor: true,
      fps: 10,
    },
    cliProgress().Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
