import type { Store } from '../store/root.js';
import { ImportPool } from '../layer/import-pool.js';
import { layerSourceLength, type LayerSource } from '../layer/layer-source.js';
import { discardStagedLayer, type LayerFacts, type StagedLayer } from '../layer/stage.js';
import type { LoadEvent } from './load.js';

export interface LayerJob {
  /** The short ID progress events name the layer by. */
  id: string;
  chainId: string;
  source: LayerSource;
  facts: LayerFacts;
}

export interface LayerStagingOptions {
  workers?: number | undefined;
  onEvent?: ((event: LoadEvent) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Stages every job at once on the import pool (largest first, so the last to finish
 * is a small one) and hands each staged layer over in job order as soon as it is
 * ready, so the caller commits layer 1 while later ones still unpack. All or
 * nothing: the first failure cancels every other stage, every staged layer not
 * taken is discarded, and that failure — not the others' "interrupted" — is thrown.
 */
export class LayerStaging {
  private readonly pool: ImportPool;
  private readonly stages: Promise<StagedLayer>[];
  private readonly settled: Promise<PromiseSettledResult<StagedLayer>[]>;
  private readonly cancel = new AbortController();
  private readonly taken = new Set<number>();
  private cause: unknown;

  constructor(
    store: Store,
    jobs: readonly LayerJob[],
    private readonly options: LayerStagingOptions,
  ) {
    this.pool = new ImportPool(
      store,
      jobs.map((j) => layerSourceLength(j.source)),
      { workers: options.workers },
    );
    options.signal?.addEventListener('abort', this.stop, { once: true });
    if (options.signal?.aborted) this.stop();
    const stages: Promise<StagedLayer>[] = new Array(jobs.length);
    const largestFirst = [...jobs.keys()].sort((a, b) => layerSourceLength(jobs[b]!.source) - layerSourceLength(jobs[a]!.source));
    for (const i of largestFirst) stages[i] = this.start(jobs[i]!);
    this.stages = stages;
    this.settled = Promise.allSettled(stages);
  }

  /** The staged layer of job `i`; the caller now owns it (commits or discards it). */
  async take(i: number): Promise<StagedLayer> {
    try {
      const staged = await this.stages[i]!;
      this.taken.add(i);
      return staged;
    } catch (err) {
      await this.abandon();
      throw this.cause ?? err;
    }
  }

  /** Cancels every stage still running and discards every staged layer not taken. */
  async abandon(): Promise<void> {
    this.stop();
    const results = await this.settled;
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled' && !this.taken.has(i)) {
        this.taken.add(i);
        await discardStagedLayer(r.value);
      }
    }
  }

  /** Waits for every stage to settle and stops the workers. */
  async close(): Promise<void> {
    this.options.signal?.removeEventListener('abort', this.stop);
    await this.settled;
    await this.pool.close();
  }

  private readonly stop = (): void => this.cancel.abort();

  private start(job: LayerJob): Promise<StagedLayer> {
    const { onEvent } = this.options;
    const stage = this.pool
      .stage(job.source, job.facts, {
        signal: this.cancel.signal,
        onStart: () => onEvent?.({ type: 'layer-start', id: job.id, total: job.facts.size ?? layerSourceLength(job.source) }),
        ...(onEvent ? { onProgress: (done: number) => onEvent({ type: 'layer-progress', id: job.id, done }) } : {}),
      })
      .catch((err: unknown) => {
        // The failure that stopped the others is the diagnosis, not their "interrupted".
        if (!this.cancel.signal.aborted) {
          this.cause = err;
          this.stop();
        }
        throw err;
      });
    stage.catch(() => {}); // awaited through take() or settled; never unheard
    return stage;
  }
}
