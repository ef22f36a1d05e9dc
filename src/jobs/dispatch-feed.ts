import type { DispatchQueue, Lease } from './dispatch-queue.ts';
import type { QueueEntry } from './job-queue.ts';
import type { LifecycleQueue } from './lifecycle-ports.ts';
import type { Logger } from './logger.ts';

/**
 * The lifecycle's queue on a cluster node: the shared {@link DispatchQueue}. It also keeps the
 * leases this node holds, because a job put back (a retry) while its lease is held must leave
 * the lease first — the dispatch queue ignores adding a leased job. Its calls never reject: the
 * repository has the job's state, and {@link restoreDispatchQueue} puts back what a failed call
 * left out.
 */
export class DispatchFeed implements LifecycleQueue {
  readonly #queue: DispatchQueue;
  readonly #logger: Logger;
  readonly #held = new Map<string, Lease>();

  constructor(queue: DispatchQueue, logger: Logger) {
    this.#queue = queue;
    this.#logger = logger;
  }

  /** Records a lease this node took; {@link add} ends it before putting its job back. */
  hold(lease: Lease): void {
    this.#held.set(lease.item.jobId, lease);
  }

  /** The lease still held for a job (not handed back by a retry), which the holder ends. */
  release(jobId: string): Lease | undefined {
    const lease = this.#held.get(jobId);
    this.#held.delete(jobId);
    return lease;
  }

  /** Leases held now (heartbeats). */
  leases(): readonly Lease[] {
    return [...this.#held.values()];
  }

  async add(entry: QueueEntry): Promise<void> {
    const lease = this.release(entry.id);
    try {
      if (lease) await this.#queue.complete(lease);
      await this.#queue.add({
        jobId: entry.id,
        priority: entry.priority,
        model: entry.model,
        batchKey: entry.batchKey,
      });
    } catch (error) {
      this.#logger.error({ err: error, jobId: entry.id }, 'queueing a job failed');
    }
  }

  async remove(id: string): Promise<boolean> {
    try {
      return await this.#queue.remove(id);
    } catch (error) {
      this.#logger.error({ err: error, jobId: id }, 'removing a job from the queue failed');
      return false;
    }
  }

  position(): undefined {
    return undefined;
  }
}
