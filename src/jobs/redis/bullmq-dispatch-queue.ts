import { randomUUID } from 'node:crypto';
import { ErrorCode, Job as BullJob, Queue, Worker } from 'bullmq';
import type { DispatchItem, DispatchQueue, Lease } from '../dispatch-queue.ts';

export interface BullmqDispatchQueueOptions {
  /** `redis://…` of the Redis every node shares. */
  readonly url: string;
  /** Namespaces every key (one deployment, or one test run). */
  readonly prefix: string;
  readonly queueName: string;
  /** How long a claim holds without a heartbeat (BullMQ's lock duration). */
  readonly leaseMs: number;
  /** How often expired leases are looked for (BullMQ's stalled interval). */
  readonly checkIntervalMs: number;
}

/** BullMQ's priorities run from 1 (first) to 2^21 − 1; Pictor's higher numbers run first. */
const BULL_PRIORITY_MIDDLE = 1_048_576;
const BULL_PRIORITY_MAX = 2_097_151;

/** What BullMQ answers when a lock is not the caller's (expired, taken over) or the job is gone. */
const LEASE_LOST: readonly unknown[] = [
  ErrorCode.JobNotExist,
  ErrorCode.JobLockNotExist,
  ErrorCode.JobNotInState,
  ErrorCode.JobLockMismatch,
];

function bullPriority(priority: number): number {
  return Math.min(BULL_PRIORITY_MAX, Math.max(1, BULL_PRIORITY_MIDDLE - Math.round(priority)));
}

/**
 * {@link DispatchQueue} on BullMQ (Redis), shared by every node. A claim is BullMQ's manual fetch
 * (`getNextJob` with a fresh token: the job's lock is the lease), a heartbeat extends the lock,
 * and BullMQ's stalled checker — one pass per interval across all nodes — puts jobs whose lock
 * expired back to wait. BullMQ never fails a job by itself here: attempts are counted in the
 * repository, so its stalled limit is set out of reach and finished jobs leave Redis at once.
 */
export class BullmqDispatchQueue implements DispatchQueue {
  readonly #queue: Queue<DispatchItem>;
  readonly #worker: Worker<DispatchItem>;
  /** Jobs this node holds, by lease token (BullMQ's lock calls need the job object). */
  readonly #held = new Map<string, BullJob<DispatchItem>>();
  readonly #leaseMs: number;

  constructor(options: BullmqDispatchQueueOptions) {
    this.#leaseMs = options.leaseMs;
    const connection = { url: options.url, maxRetriesPerRequest: null };
    const { prefix, queueName } = options;
    this.#queue = new Queue<DispatchItem>(queueName, { connection, prefix });
    this.#worker = new Worker<DispatchItem>(queueName, null, {
      connection,
      prefix,
      autorun: false,
      lockDuration: options.leaseMs,
      skipLockRenewal: true,
      stalledInterval: options.checkIntervalMs,
      maxStalledCount: Number.MAX_SAFE_INTEGER,
    });
    // Connection errors surface in the calls that fail; without a listener they would throw.
    this.#queue.on('error', () => undefined);
    this.#worker.on('error', () => undefined);
    void this.#worker.startStalledCheckTimer();
  }

  async add(item: DispatchItem): Promise<void> {
    // The job id deduplicates: adding a job that is waiting or active is a no-op.
    await this.#queue.add('generate', item, {
      jobId: item.jobId,
      priority: bullPriority(item.priority),
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  async claim(): Promise<Lease | undefined> {
    const token = randomUUID();
    const job = (await this.#worker.getNextJob(token, { block: false })) as
      BullJob<DispatchItem> | undefined;
    if (!job) return undefined;
    this.#held.set(token, job);
    return { item: job.data, token, delivery: job.attemptsStarted };
  }

  async heartbeat(lease: Lease): Promise<boolean> {
    const job = await this.#jobOf(lease);
    return job !== undefined && (await job.extendLock(lease.token, this.#leaseMs)) === 1;
  }

  async complete(lease: Lease): Promise<boolean> {
    return this.#finish(lease, (job) => job.moveToCompleted(null, lease.token, false));
  }

  async release(lease: Lease): Promise<boolean> {
    return this.#finish(lease, (job) => job.moveToWait(lease.token));
  }

  async remove(jobId: string): Promise<boolean> {
    if ((await this.state(jobId)) !== 'waiting') return false;
    // BullMQ does not remove a locked job: one claimed meanwhile stays with its holder.
    return (await this.#queue.remove(jobId)) === 1;
  }

  async state(jobId: string): Promise<'waiting' | 'leased' | undefined> {
    const state = await this.#queue.getJobState(jobId);
    if (state === 'waiting' || state === 'prioritized') return 'waiting';
    return state === 'active' ? 'leased' : undefined;
  }

  async waitingCount(): Promise<number> {
    return this.#queue.getJobCountByTypes('waiting', 'prioritized');
  }

  async close(): Promise<void> {
    await this.#worker.close(true);
    await this.#queue.close();
  }

  async #jobOf(lease: Lease): Promise<BullJob<DispatchItem> | undefined> {
    return this.#held.get(lease.token) ?? (await BullJob.fromId(this.#queue, lease.item.jobId));
  }

  /** Ends the lease with `end`; false (nothing changed) when the lock is no longer the lease's. */
  async #finish(
    lease: Lease,
    end: (job: BullJob<DispatchItem>) => Promise<unknown>,
  ): Promise<boolean> {
    const job = await this.#jobOf(lease);
    if (!job) return false;
    try {
      await end(job);
      return true;
    } catch (error) {
      if (LEASE_LOST.includes((error as { code?: unknown }).code)) return false;
      throw error; // Redis unreachable: not an answer about the lease
    } finally {
      this.#held.delete(lease.token);
    }
  }
}
