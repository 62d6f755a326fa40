import type cliProgressModule from 'cli-progress';
import type { PullEvent } from '../transfer/pull.js';
import type { CliContext } from './context.js';
import { barPayload, cliProgress, layerMultiBar, loadBarLayout } from './progress.js';

export interface PullOutput {
  onEvent: (event: PullEvent) => void;
  stop: () => void;
}

/**
 * What `pull` shows about its layers, as Docker does. On a terminal, one line a layer
 * that goes through Docker's states (LayerState): Pulling fs layer, Waiting, Downloading
 * with a bar, Verifying Checksum from the last byte until the blob digest is confirmed,
 * Download complete, Extracting while the rest of the unpack (which ran during the
 * download) finishes, Pull complete — or Already exists. Piped, as Docker's output
 * there: every state without a bar, a line each (`ID: Pulling fs layer`, `Waiting`,
 * `Verifying Checksum`, `Download complete`, `Pull complete`, or `Already exists`) —
 * downloads end in any order, `Pull complete` comes in layer order.
 * Nothing at all with -q.
 */
export function pullOutput(ctx: CliContext, header: string, quiet?: boolean): PullOutput | undefined {
  if (quiet) return undefined;
  return ctx.interactive() ? pullBars(ctx, header) : pullLines(ctx, header);
}

function pullLines(ctx: CliContext, header: string): PullOutput {
  let order: { id: string; present: boolean }[] = [];
  // What each layer has printed so far, as its last state.
  const states = new Map<string, LayerState>();
  const sizes = new Map<string, number>();
  const say = (id: string, state: LayerState) => {
    states.set(id, state);
    ctx.print(`${id}: ${state}`);
  };
  const downloaded = (id: string) => {
    if (states.get(id) === 'Download complete') return;
    if (states.get(id) !== 'Verifying Checksum') say(id, 'Verifying Checksum');
    say(id, 'Download complete');
  };
  const done = new Set<string>();
  let next = 0;
  const advance = () => {
    for (; next < order.length && done.has(order[next]!.id); next++) {
      const { id, present } = order[next]!;
      if (!present) say(id, 'Pull complete');
    }
  };
  return {
    onEvent(event) {
      if (event.type === 'layers') {
        ctx.print(header);
        // An image already stored shows no layers, as Docker's "Image is up to date".
        order = event.imageStored ? [] : event.ids;
        for (const { id, present } of order) {
          say(id, present ? 'Already exists' : 'Pulling fs layer');
          if (present) done.add(id);
        }
        advance();
      } else if (event.type === 'layer-start') {
        states.set(event.id, 'Downloading');
        sizes.set(event.id, event.total);
        // As on a terminal: layers not begun while another has are waiting for a slot.
        for (const [id, state] of states) if (state === 'Pulling fs layer') say(id, 'Waiting');
      } else if (event.type === 'layer-progress') {
        if (states.get(event.id) === 'Downloading' && event.done >= (sizes.get(event.id) ?? Number.POSITIVE_INFINITY))
          say(event.id, 'Verifying Checksum');
      } else if (event.type === 'layer-verified') {
        downloaded(event.id);
      } else if (event.type === 'layer-done') {
        downloaded(event.id);
        done.add(event.id);
        advance();
      }
    },
    stop: () => {},
  };
}

/** A layer's line on a terminal: Docker's states, in the order a layer goes through them. */
type LayerState =
  | 'Already exists'
  | 'Pulling fs layer'
  | 'Waiting'
  | 'Downloading'
  | 'Verifying Checksum'
  | 'Download complete'
  | 'Extracting'
  | 'Pull complete';

/** The states whose line has a bar (bytes, size and rate); the others are the state alone, as Docker's. */
const WITH_BAR = new Set<LayerState>(['Downloading', 'Extracting', 'Pull complete']);

interface LayerLine {
  bar: cliProgressModule.SingleBar;
  state: LayerState;
  started: number;
  total: number;
  done: number;
}

function pullBars(ctx: CliContext, header: string): PullOutput {
  let bars: cliProgressModule.MultiBar | undefined;
  const layers = new Map<string, LayerLine>();
  const payload = (id: string, line: Pick<LayerLine, 'state' | 'started' | 'total' | 'done'>) =>
    WITH_BAR.has(line.state)
      ? { id, withBar: true, ...barPayload(line.done, line.total, line.started, line.state) }
      : { id, withBar: false, status: line.state };
  // A new state is drawn at once, not at the next frame: a state can last less than a
  // frame (Verifying Checksum, Download complete), and Docker shows every one.
  const enter = (id: string, line: LayerLine, state: LayerState) => {
    line.state = state;
    line.bar.update(line.done, payload(id, line));
    bars?.update();
  };
  return {
    onEvent(event) {
      if (event.type === 'layers') {
        ctx.print(header);
        bars = layerMultiBar(ctx);
        const format = layerLineFormat(loadBarLayout((ctx.io.stdout as { columns?: number }).columns ?? 80).format);
        for (const { id, present } of event.imageStored ? [] : event.ids) {
          const line = { state: present ? 'Already exists' : 'Pulling fs layer', started: 0, total: 0, done: 0 } as const;
          const bar = bars.create(1, 0, payload(id, line), { format });
          if (!present) layers.set(id, { ...line, bar });
        }
        bars.update();
        return;
      }
      const line = layers.get(event.id);
      if (!line) return;
      if (event.type === 'layer-start') {
        // Also a second start: a resumed blob that was not this blob's beginning is fetched again from byte 0.
        line.started = Date.now();
        line.done = 0;
        line.total = event.total;
        line.bar.setTotal(Math.max(1, event.total));
        enter(event.id, line, 'Downloading');
        // Layers not begun while another has are waiting for a download slot or an import worker.
        for (const [id, other] of layers) if (other.state === 'Pulling fs layer') enter(id, other, 'Waiting');
      } else if (event.type === 'layer-progress') {
        line.done = event.done;
        // From the last byte the blob digest is being confirmed.
        if (line.state === 'Downloading' && event.done >= line.total) enter(event.id, line, 'Verifying Checksum');
        else line.bar.update(line.done, payload(event.id, line));
      } else if (event.type === 'layer-verified') {
        enter(event.id, line, 'Download complete');
        // The unpack ran during the download; what is left of it is the extracting.
        line.done = line.total;
        enter(event.id, line, 'Extracting');
      } else {
        line.done = line.total;
        enter(event.id, line, 'Pull complete');
      }
    },
    stop: () => bars?.stop(),
  };
}

/** Lays out a layer's line: `layout` (loadBarLayout's) while its state has a bar, `ID: State` otherwise. */
function layerLineFormat(layout: string): cliProgressModule.GenericFormatter {
  return (options, params, payload: { withBar: boolean }) =>
    cliProgress().Format.Formatter({ ...options, format: payload.withBar ? layout : '{id}: {status}' }, params, payload);
}
