import { workUnits, type QueueEntry, type QueueTotals } from './job-queue.ts';

/** One model's measured costs (what worker nodes advertise, so API nodes forecast with them). */
export interface ModelTiming {
  /** Milliseconds per denoising step per image per megapixel. */
  readonly stepMs: number;
  /** Milliseconds per batch outside the steps (text encoder, VAE, encode, IPC). */
  readonly overheadMs: number;
  /** Batches measured. */
  readonly samples: number;
}

type Estimate = ModelTiming;

const ALPHA = 0.3;
const PRIOR: Estimate = { stepMs: 2000, overheadMs: 300, samples: 0 };

/**
 * Forecasts job durations from measured batch timings, per model: a batch costs
 * `overhead + steps × images × megapixels × stepMs`, both terms tracked as moving averages.
 */
export class EtaEstimator {
  readonly #byModel = new Map<string, Estimate>();

  #get(model: string): Estimate {
    return this.#byModel.get(model) ?? PRIOR;
  }

  /** Records a finished batch: total wall time and the time spent in steps. */
  record(
    model: string,
    sample: { steps: number; images: number; pixels: number; totalMs: number; stepsMs: number },
  ): void {
    const units = sample.steps * sample.images * (sample.pixels / 1e6);
    if (units <= 0 || sample.totalMs <= 0) return;
    const stepMs = sample.stepsMs / units;
    const overheadMs = Math.max(0, sample.totalMs - sample.stepsMs);
    const old = this.#byModel.get(model);
    this.#byModel.set(
      model,
      old
        ? {
            stepMs: old.stepMs + ALPHA * (stepMs - old.stepMs),
            overheadMs: old.overheadMs + ALPHA * (overheadMs - old.overheadMs),
            samples: old.samples + 1,
          }
        : { stepMs, overheadMs, samples: 1 },
    );
  }

  /** The models measured here, with their current estimates. */
  measured(): Record<string, ModelTiming> {
    return Object.fromEntries(this.#byModel);
  }

  /**
   * Takes measurements made elsewhere as this estimator's own (an API node, which runs nothing,
   * adopts its worker nodes'); models absent from `timings` keep what they had.
   */
  adopt(timings: Readonly<Record<string, ModelTiming>>): void {
    for (const [model, timing] of Object.entries(timings)) {
      if (timing.samples > 0) this.#byModel.set(model, { ...timing });
    }
  }

  /** Expected run time of one job alone, in milliseconds. */
  jobMs(entry: QueueEntry): number {
    const e = this.#get(entry.model);
    return e.overheadMs + entry.steps * entry.images * (entry.pixels / 1e6) * e.stepMs;
  }

  /**
   * Milliseconds until a job that waits behind `ahead` finishes, given the remaining time of the
   * running batches and the number of workers. Jobs ahead that share a batch share the overhead.
   */
  waitMs(
    ahead: readonly QueueEntry[],
    self: QueueEntry | undefined,
    runningMs: readonly number[],
    workers: number,
    maxBatch: number,
  ): number {
    let work = runningMs.reduce((sum, ms) => sum + ms, 0);
    const perKey = new Map<string, number>();
    for (const entry of ahead) perKey.set(entry.batchKey, (perKey.get(entry.batchKey) ?? 0) + 1);
    for (const entry of ahead) {
      const e = this.#get(entry.model);
      const share = Math.min(maxBatch, perKey.get(entry.batchKey) ?? 1);
      work += e.overheadMs / share + (this.jobMs(entry) - e.overheadMs);
    }
    const own = self ? this.jobMs(self) : 0;
    return work / Math.max(1, workers) + own;
  }

  /**
   * {@link waitMs} for a job at the back of the queue, from the queue's running totals (which
   * include the job itself): the same sum, regrouped by batch key and model, in O(keys + models).
   */
  waitMsAtBack(
    totals: QueueTotals,
    self: QueueEntry,
    runningMs: readonly number[],
    workers: number,
    maxBatch: number,
  ): number {
    let work = runningMs.reduce((sum, ms) => sum + ms, 0);
    for (const [key, { count, model }] of totals.perBatchKey) {
      const ahead = key === self.batchKey ? count - 1 : count;
      if (ahead > 0) work += (this.#get(model).overheadMs * ahead) / Math.min(maxBatch, ahead);
    }
    for (const [model, units] of totals.unitsPerModel) {
      const ahead = model === self.model ? units - workUnits(self) : units;
      work += Math.max(0, ahead) * this.#get(model).stepMs;
    }
    return work / Math.max(1, workers) + this.jobMs(self);
  }

  /** Time left of a running batch that started `elapsedMs` ago and is expected to take `expectedMs`. */
  static remaining(expectedMs: number, elapsedMs: number): number {
    return Math.max(0, expectedMs - elapsedMs);
  }
}
