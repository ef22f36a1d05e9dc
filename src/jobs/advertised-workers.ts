import type { EtaEstimator, ModelTiming } from './eta-estimator.ts';
import type { InferenceWorkers, ModelInfo } from './inference-workers.ts';
import type { Logger } from './logger.ts';
import type { WorkerAdvertisement, WorkerBoard } from './worker-board.ts';

export interface AdvertisedWorkersOptions {
  readonly board: WorkerBoard;
  /** How often the board is read again (the view in between is the last one read). */
  readonly refreshMs: number;
  readonly logger: Logger;
  /** Learns the nodes' measured step times at every read (the API node's forecasts). */
  readonly eta?: Pick<EtaEstimator, 'adopt'>;
}

/**
 * An API node's view of the cluster's inference workers, from the worker nodes' advertisements:
 * the {@link InferenceWorkers} questions the job service asks before it accepts a job (which
 * models exist, with their limits and defaults; how many workers share the queue; when one is
 * expected). A model no live worker node serves is absent, so a job for it is refused as in the
 * embedded mode before its workers are ready. The board is read every `refreshMs`, so answers
 * stay synchronous.
 */
export class AdvertisedWorkers implements Pick<InferenceWorkers, 'count' | 'readyInMs' | 'models'> {
  readonly #o: AdvertisedWorkersOptions;
  #live: readonly WorkerAdvertisement[] = [];
  #models: readonly ModelInfo[] = [];
  /** Why the board could not be read last time, if it could not. */
  #problem: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: AdvertisedWorkersOptions) {
    this.#o = options;
  }

  /** Reads the board now (the returned promise settles once the view is current), then keeps reading it. */
  start(): Promise<void> {
    this.#timer = setInterval(() => void this.refresh(), this.#o.refreshMs);
    return this.refresh();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Reads the board; a failed read keeps the last view (and says so in {@link readiness}). */
  async refresh(): Promise<void> {
    try {
      this.#live = await this.#o.board.live();
      this.#models = mergeModels(this.#live);
      this.#o.eta?.adopt(mergeTimings(this.#live));
      this.#problem = undefined;
    } catch (error) {
      this.#problem = `the worker board could not be read: ${(error as Error).message}`;
      this.#o.logger.error({ err: error }, 'reading the worker board failed');
    }
  }

  /** The live worker nodes, as they last advertised. */
  nodes(): readonly WorkerAdvertisement[] {
    return this.#live;
  }

  /** Inference devices across the live worker nodes (each runs one batch at a time). */
  get count(): number {
    return this.#live.reduce((sum, node) => sum + node.devices.length, 0);
  }

  /** 0 while a worker node is live; else when the board is read next (the soonest one can show). */
  readyInMs(): number {
    return this.#live.length > 0 ? 0 : this.#o.refreshMs;
  }

  models(): readonly ModelInfo[] {
    return this.#models;
  }

  /** `true` when some worker node is live; else why not (for `/v1/health/ready`). */
  readiness(): true | string {
    if (this.#problem !== undefined) return this.#problem;
    return this.#live.length > 0 ? true : 'no live worker node';
  }
}

/**
 * One entry per model any live node serves: the first serving node's description (nodes run the
 * same configuration), `loaded` when any node holds it, available when any node can run it.
 */
function mergeModels(nodes: readonly WorkerAdvertisement[]): ModelInfo[] {
  const byName = new Map<string, ModelInfo>();
  for (const node of nodes) {
    for (const model of node.models) {
      const seen = byName.get(model.name);
      if (!seen) {
        byName.set(model.name, model);
        continue;
      }
      const available = seen.available || model.available;
      byName.set(model.name, {
        ...(seen.available || !model.available ? seen : model),
        available,
        error: available ? undefined : seen.error,
        loaded: seen.loaded || model.loaded,
      });
    }
  }
  return [...byName.values()];
}

/**
 * Each model's timing across the nodes that measured it: the mean of their estimates, each node
 * counted once (the forecast divides the queue's work among the nodes, so a node's speed counts
 * as much as the share it takes, however many batches it has run).
 */
export function mergeTimings(nodes: readonly WorkerAdvertisement[]): Record<string, ModelTiming> {
  const byModel = new Map<string, ModelTiming[]>();
  for (const node of nodes) {
    for (const [model, timing] of Object.entries(node.timings ?? {})) {
      if (timing.samples > 0) byModel.set(model, [...(byModel.get(model) ?? []), timing]);
    }
  }
  const merged: Record<string, ModelTiming> = {};
  for (const [model, timings] of byModel) {
    const mean = (pick: (t: ModelTiming) => number) =>
      timings.reduce((sum, t) => sum + pick(t), 0) / timings.length;
    merged[model] = {
      stepMs: mean((t) => t.stepMs),
      overheadMs: mean((t) => t.overheadMs),
      samples: timings.reduce((sum, t) => sum + t.samples, 0),
    };
  }
  return merged;
}
