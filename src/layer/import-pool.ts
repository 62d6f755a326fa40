import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { StrataError } from '../errors.js';
import { tempName } from '../store/atomic.js';
import { faultPointCounters } from '../store/fault-points.js';
import type { Store } from '../store/root.js';
import { receiveError, type FromWorker, type ToWorker, type WorkerSetup } from './import-messages.js';
import { openLayerSource, type LayerSource } from './layer-source.js';
import { sendStream } from './port-stream.js';
import { discardTemps, stageLayer, type LayerFacts, type StagedLayer } from './stage.js';

/**
 * Runs the import stage (stage.ts) of several layers at once, one per worker thread:
 * each layer unpacks into its own temp directory, so layers are independent until
 * they are committed — which the caller does on its own thread, in order. The pool
 * takes a layer *source* (layer-source.ts), never archive internals, or a stream whose
 * bytes arrive on this thread (a registry download): that is fed to the worker's stage
 * over a MessagePort as it arrives, with backpressure (port-stream.ts).
 *
 * With one lane the stage runs on the calling thread: a worker would add only its
 * start-up. The same holds when the layers are too small to repay a worker's start.
 */
export interface ImportPoolOptions {
  /**
   * Layers staged at once. Given (the CLI's STRATA_IMPORT_WORKERS), it is used as
   * it is; absent, os.availableParallelism() up to MAX_DEFAULT_WORKERS, and worker
   * threads only for layers big enough to repay their start (WORKER_MIN_BYTES).
   */
  workers?: number | undefined;
}

export interface StageCallbacks {
  /** Aborting cancels the stage (EINTERRUPTED); its temps are removed. */
  signal?: AbortSignal;
  /** The stage has begun (a lane was free). */
  onStart?: () => void;
  /** Bytes of the blob read so far (from a worker, in steps of about 1 MiB). */
  onProgress?: (bytes: number) => void;
  /** The whole blob is written and matched its digest; the unpack may still be running. */
  onBlobVerified?: () => void;
}

/** A layer blob whose bytes arrive on this thread (a registry download). */
export interface StreamedBlob {
  stream: Readable;
  /** The size the blob was named with. */
  length: number;
  /** The file in ingest/ the stream's producer writes the same bytes to (stage.ts `spool`). */
  spool?: string | undefined;
}

/** Below this many bytes of blobs in all, staging on the calling thread is faster than starting workers. */
export const WORKER_MIN_BYTES = 8 * 1024 * 1024;

/**
 * Each worker costs about 45 MiB of memory (its own V8 heap and stream buffers;
 * measured with bench/load-bench.ts: 197 MiB peak RSS with 2, 265–294 MiB with 4),
 * so without an explicit size the pool stops at 3, safely inside the 300 MiB budget.
 */
export const MAX_DEFAULT_WORKERS = 3;

/** The one place the worker's module is named; a bundled CLI must keep this URL working. */
const WORKER_URL = new URL('./import-worker.js', import.meta.url);

interface Lane {
  worker: Worker;
  /** Set while a stage runs on it. */
  busy: boolean;
}

export class ImportPool {
  readonly lanes: number;
  private readonly workers: Lane[] = [];
  private readonly waiting: ((lane: Lane) => void)[] = [];
  private nextId = 1;
  private closed = false;
  /** With one lane: the stage in progress on this thread, which the next one waits for. */
  private inline: Promise<void> = Promise.resolve();

  /** `layerBytes`: the blob sizes of the layers this pool will stage, to size it (never more lanes than layers). */
  constructor(
    private readonly store: Store,
    layerBytes: readonly number[],
    options: ImportPoolOptions = {},
  ) {
    const total = layerBytes.reduce((sum, n) => sum + n, 0);
    const wanted = options.workers ?? (total < WORKER_MIN_BYTES ? 1 : Math.min(os.availableParallelism(), MAX_DEFAULT_WORKERS));
    this.lanes = Math.max(1, Math.min(wanted, layerBytes.length));
  }

  /** Stages one layer: on a free worker, or on this thread when the pool has one lane. */
  async stage(source: LayerSource, facts: LayerFacts, callbacks: StageCallbacks = {}): Promise<StagedLayer> {
    if (this.closed) throw new StrataError('EUSAGE', 'import pool already closed');
    if (callbacks.signal?.aborted) throw new StrataError('EINTERRUPTED', `${facts.source}: interrupted`);
    if (this.lanes === 1) {
      // One after the other, as the layers come: the next starts when this one is done.
      const turn = this.inline.then(() => {
        if (callbacks.signal?.aborted) throw new StrataError('EINTERRUPTED', `${facts.source}: interrupted`);
        callbacks.onStart?.();
        return stageLayer(openLayerSource(source), {
          ...facts,
          store: this.store,
          signal: callbacks.signal,
          onProgress: callbacks.onProgress,
          onBlobVerified: callbacks.onBlobVerified,
        });
      });
      this.inline = turn.then(
        () => undefined,
        () => undefined,
      );
      return turn;
    }
    const lane = await this.acquire();
    try {
      if (callbacks.signal?.aborted) throw new StrataError('EINTERRUPTED', `${facts.source}: interrupted`);
      callbacks.onStart?.();
      return await this.run(lane, source, facts, callbacks);
    } finally {
      this.release(lane);
    }
  }

  /**
   * Stages one layer whose bytes arrive on this thread. With one lane it is staged
   * here, at once and beside any other: its producer (a download) sets the pace, so
   * streams are not queued behind each other. Else it waits for a free worker, and
   * only then is the stream read. The stream is consumed or destroyed whatever
   * happens; progress counts the bytes read from it here.
   */
  async stageStream(blob: StreamedBlob, facts: LayerFacts, callbacks: StageCallbacks = {}): Promise<StagedLayer> {
    const { stream, length, spool } = blob;
    const interrupted = () => {
      stream.destroy();
      return new StrataError('EINTERRUPTED', `${facts.source}: interrupted`);
    };
    if (this.closed) {
      stream.destroy();
      throw new StrataError('EUSAGE', 'import pool already closed');
    }
    if (callbacks.signal?.aborted) throw interrupted();
    if (this.lanes === 1) {
      callbacks.onStart?.();
      const { signal, onProgress, onBlobVerified } = callbacks;
      return stageLayer(stream, { ...facts, store: this.store, spool, signal, onProgress, onBlobVerified });
    }
    const lane = await this.acquire();
    try {
      if (callbacks.signal?.aborted) throw interrupted();
      callbacks.onStart?.();
      const { onProgress, ...rest } = callbacks;
      if (onProgress) {
        let read = 0;
        stream.on('data', (chunk: Buffer) => onProgress((read += chunk.length)));
      }
      const channel = new MessageChannel();
      const stopFeeding = sendStream(stream, channel.port1);
      try {
        return await this.run(lane, { port: channel.port2, length }, facts, rest, { transfer: [channel.port2], spool });
      } finally {
        stopFeeding();
      }
    } finally {
      this.release(lane);
    }
  }

  /** Stops every worker. Call once every stage has settled. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((lane) => lane.worker.terminate()));
    this.workers.length = 0;
  }

  /** `transfer`: what the message moves to the worker (a stream's port); `spool`: see StreamedBlob. */
  private run(
    lane: Lane,
    source: LayerSource,
    facts: LayerFacts,
    callbacks: StageCallbacks,
    stream: { transfer: MessagePort[]; spool: string | undefined } = { transfer: [], spool: undefined },
  ): Promise<StagedLayer> {
    const { transfer, spool } = stream;
    const id = this.nextId++;
    const layerDir = tempName();
    const temp = { blob: path.join(this.store.paths.ingestDir, tempName()), layerDir };
    const { worker } = lane;
    return new Promise<StagedLayer>((resolve, reject) => {
      const cancel = () => worker.postMessage({ type: 'cancel', id } satisfies ToWorker);
      const settle = () => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        callbacks.signal?.removeEventListener('abort', cancel);
      };
      const onMessage = (message: FromWorker) => {
        if (message.id !== id) return;
        if (message.type === 'progress') callbacks.onProgress?.(message.bytes);
        else if (message.type === 'verified') callbacks.onBlobVerified?.();
        else if (message.type === 'staged') {
          settle();
          resolve(message.staged);
        } else {
          settle();
          reject(receiveError(message.error));
        }
      };
      // A worker that dies cannot clean up: its temps were named here, so they go here
      // (not a spool: that is its producer's, kept to resume from).
      const died = (err: Error) => {
        settle();
        this.forget(lane);
        const blob = spool === undefined ? temp.blob : undefined;
        discardTemps({ blob, layerDir: path.join(this.store.paths.layersDir, layerDir) }).then(() => reject(err));
      };
      const onError = (err: Error) => died(err);
      const onExit = (code: number) => died(new Error(`${facts.source}: layer import worker exited with code ${code}`));
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      callbacks.signal?.addEventListener('abort', cancel, { once: true });
      worker.postMessage(
        { type: 'stage', id, source, facts, temp, spool, progress: callbacks.onProgress !== undefined } satisfies ToWorker,
        transfer,
      );
    });
  }

  private acquire(): Promise<Lane> {
    const idle = this.workers.find((lane) => !lane.busy);
    if (idle) {
      idle.busy = true;
      return Promise.resolve(idle);
    }
    if (this.workers.length < this.lanes) return Promise.resolve(this.start());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(lane: Lane): void {
    if (!this.workers.includes(lane)) {
      // It died: a new one takes its place for whoever waits.
      this.waiting.shift()?.(this.start());
      return;
    }
    const next = this.waiting.shift();
    if (next) next(lane);
    else lane.busy = false;
  }

  private forget(lane: Lane): void {
    const i = this.workers.indexOf(lane);
    if (i >= 0) this.workers.splice(i, 1);
  }

  /** A new busy lane. */
  private start(): Lane {
    const { root, whiteoutFormat, info, privileged, lockTimeoutMs } = this.store;
    const setup: WorkerSetup = { store: { root, whiteoutFormat, info, privileged, lockTimeoutMs }, faultPoints: faultPointCounters() };
    // The worker's stdout and stderr are the process's; fault points write fd 2 directly.
    const lane: Lane = { worker: new Worker(WORKER_URL, { workerData: setup }), busy: true };
    // A stage in progress hears its worker fail (run); an idle worker that dies is only dropped.
    lane.worker.on('error', () => {}).once('exit', () => this.forget(lane));
    this.workers.push(lane);
    return lane;
  }
}
