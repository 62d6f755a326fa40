import { parentPort, workerData } from 'node:worker_threads';
import { shareFaultPointCounters } from '../store/fault-points.js';
import { StorePaths } from '../store/paths.js';
import type { Store, StoreInfo } from '../store/root.js';
import { sendError, type FromWorker, type ToWorker, type WorkerSetup } from './import-messages.js';
import { openLayerSource } from './layer-source.js';
import { stageLayer } from './stage.js';

/**
 * An import worker (import-pool.ts starts them): runs the import stage (stage.ts) for
 * one layer at a time, as the pool asks, and answers with the staged layer or the
 * error. It commits nothing, takes no lock and writes no lease: the main thread does
 * all of that, in layer order.
 */
const PROGRESS_STEP_BYTES = 1 << 20;

function serve(port: NonNullable<typeof parentPort>, setup: WorkerSetup): void {
  shareFaultPointCounters(setup.faultPoints);
  const s = setup.store;
  const store: Store = {
    root: s.root,
    paths: new StorePaths(s.root),
    whiteoutFormat: s.whiteoutFormat,
    info: s.info as StoreInfo,
    privileged: s.privileged,
    lockTimeoutMs: s.lockTimeoutMs,
  };
  const running = new Map<number, AbortController>();
  const send = (message: FromWorker) => port.postMessage(message);

  port.on('message', (message: ToWorker) => {
    if (message.type === 'cancel') {
      running.get(message.id)?.abort();
      return;
    }
    const { id } = message;
    const controller = new AbortController();
    running.set(id, controller);
    let posted = 0;
    const onProgress = message.progress
      ? (bytes: number) => {
          if (bytes - posted < PROGRESS_STEP_BYTES) return;
          posted = bytes;
          send({ type: 'progress', id, bytes });
        }
      : undefined;
    const staging = async () => {
      const blob = openLayerSource(message.source);
      return stageLayer(blob, {
        ...message.facts,
        store,
        temp: message.temp,
        spool: message.spool,
        signal: controller.signal,
        onProgress,
        onBlobVerified: () => send({ type: 'verified', id }),
      });
    };
    staging()
      .then(
        (staged) => send({ type: 'staged', id, staged }),
        (err: unknown) => send({ type: 'failed', id, error: sendError(err) }),
      )
      .finally(() => running.delete(id));
  });
}

if (parentPort === null) throw new Error('import-worker.js runs only as a worker thread (layer/import-pool.ts starts it)');
serve(parentPort, workerData as WorkerSetup);
