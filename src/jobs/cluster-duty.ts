import type { ClusterLock } from './cluster-lock.ts';
import type { Logger } from './logger.ts';

export interface ClusterDutyOptions {
  readonly lock: ClusterLock;
  /** The lock's name: one duty, one name, across the cluster. */
  readonly name: string;
  /** This node's id (who holds the lock). */
  readonly holder: string;
  readonly intervalMs: number;
  /** One pass of the duty; its failure is logged and the next interval tries again. */
  readonly run: () => Promise<unknown>;
  readonly logger: Logger;
}

/** Missed renewals a holder survives before another node takes the duty over. */
const LEASE_INTERVALS = 3;

/**
 * A periodic duty that one node of the cluster does at a time (the TTL sweep, re-enqueueing from
 * the database): every interval each node asks the {@link ClusterLock}, and only its holder runs
 * a pass. The holder renews its lease each interval, so the duty stays on one node while it
 * lives; a node that dies or hangs loses it within three intervals, and a node that stops gives
 * it up at once. A pass longer than the lease may overlap the next holder's: duties are written
 * to be safe to repeat (conditional transitions, idempotent adds), the lock only spares the work.
 */
export class ClusterDuty {
  readonly #o: ClusterDutyOptions;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<boolean> | undefined;

  constructor(options: ClusterDutyOptions) {
    this.#o = options;
  }

  /** Runs a pass now (if this node gets the lock) and then every interval. */
  start(): void {
    void this.tick();
    this.#timer = setInterval(() => void this.tick(), this.#o.intervalMs);
    this.#timer.unref();
  }

  /**
   * One interval: takes or renews the lock and, when held, runs a pass. Resolves with whether
   * this node ran it; a pass still running here is awaited rather than started twice.
   */
  tick(): Promise<boolean> {
    this.#pass ??= this.#tick().finally(() => (this.#pass = undefined));
    return this.#pass;
  }

  async #tick(): Promise<boolean> {
    const { lock, name, holder, intervalMs, run, logger } = this.#o;
    try {
      if (!(await lock.acquire(name, holder, intervalMs * LEASE_INTERVALS))) return false;
      await run();
      return true;
    } catch (error) {
      logger.error({ err: error, duty: name }, 'a cluster duty failed');
      return false;
    }
  }

  /** Stops the timer, lets a running pass end, and hands the duty to another node at once. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#pass;
    await this.#o.lock.release(this.#o.name, this.#o.holder).catch(() => false);
  }
}
