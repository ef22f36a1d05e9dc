import type { BlobStore } from './blob-store.ts';

/** Expired blobs removed per `deleteExpired` call: bounds one call's time and transaction. */
const BATCH = 500;

/**
 * Removes expired blobs on a timer. Every node of a cluster may run one: the stores make
 * concurrent sweeps safe (PostgreSQL gives each expired blob to one sweeper), so no election is
 * needed and the sweep goes on whichever nodes are alive.
 */
export class BlobExpirySweeper {
  readonly #blobs: BlobStore;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;

  constructor(blobs: BlobStore) {
    this.#blobs = blobs;
  }

  start(intervalMs: number, onError: (error: unknown) => void): void {
    this.#timer = setInterval(() => {
      // A slow pass (a large backlog) is not overlapped by the next tick.
      this.#running ??= this.sweep()
        .catch((error: unknown) => {
          onError(error);
          return 0;
        })
        .finally(() => (this.#running = undefined));
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a pass under way. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** One pass: batches until the store has no expired blob left; returns how many it removed. */
  async sweep(now = Date.now()): Promise<number> {
    let total = 0;
    for (;;) {
      const removed = await this.#blobs.deleteExpired(now, BATCH);
      total += removed;
      if (removed < BATCH) return total;
    }
  }
}
