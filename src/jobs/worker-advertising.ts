import type { Logger } from './logger.ts';
import type { WorkerAdvertisement, WorkerBoard } from './worker-board.ts';

export interface WorkerAdvertisingOptions {
  readonly board: WorkerBoard;
  /** What the node serves now (read at every heartbeat, so loads and unloads show). */
  readonly snapshot: () => Omit<WorkerAdvertisement, 'advertisedAt'>;
  /** How often the advertisement is renewed; it lives three heartbeats. */
  readonly heartbeatMs: number;
  readonly logger: Logger;
}

/**
 * A worker node's advertisement on the {@link WorkerBoard}: written at start, renewed every
 * heartbeat with a TTL of three, withdrawn on a graceful stop. One missed renewal (a slow Redis)
 * does not drop the node; a node that died drops out within three heartbeats.
 */
export class WorkerAdvertising {
  readonly #o: WorkerAdvertisingOptions;
  #timer: NodeJS.Timeout | undefined;
  #last: Promise<void> = Promise.resolve();

  constructor(options: WorkerAdvertisingOptions) {
    this.#o = options;
  }

  get ttlMs(): number {
    return this.#o.heartbeatMs * 3;
  }

  /** Advertises now (the returned promise settles once it is written) and on every heartbeat. */
  start(): Promise<void> {
    this.#timer = setInterval(() => void this.#advertise(), this.#o.heartbeatMs);
    return this.#advertise();
  }

  #advertise(): Promise<void> {
    const { board, snapshot, logger } = this.#o;
    this.#last = this.#last
      .then(() => board.publish({ ...snapshot(), advertisedAt: Date.now() }, this.ttlMs))
      .catch((error: unknown) => logger.error({ err: error }, 'advertising the worker failed'));
    return this.#last;
  }

  /** Stops renewing and withdraws the advertisement (after any write under way). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#last;
    await this.#o.board
      .withdraw(this.#o.snapshot().nodeId)
      .catch((error: unknown) => this.#o.logger.error({ err: error }, 'withdrawing failed'));
  }
}
