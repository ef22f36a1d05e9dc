import { randomUUID } from 'node:crypto';
import type { BatchRunner } from './batch-runner.ts';
import type { DispatchFeed } from './dispatch-feed.ts';
import type { DispatchQueue, Lease } from './dispatch-queue.ts';
import type { InferenceWorkers } from './inference-workers.ts';
import type { JobEventBus } from './job-event-bus.ts';
import { entryOf, type JobLifecycle } from './job-lifecycle.ts';
import type { JobRepository } from './job-repository.ts';
import type { Logger } from './logger.ts';
import type { NodeHoldings } from './model-placement.ts';
import { RunningBatches } from './running-batches.ts';

export interface WorkerNodeDeps {
  readonly queue: DispatchQueue;
  /** The lifecycle's queue over `queue`; it keeps this node's leases. */
  readonly feed: DispatchFeed;
  readonly jobs: JobRepository;
  readonly workers: InferenceWorkers;
  readonly runner: BatchRunner;
  readonly lifecycle: JobLifecycle;
  /** Where a job's cancel, recorded by whichever API node took it, reaches this node. */
  readonly bus: Pick<JobEventBus, 'onJob'>;
  readonly logger: Logger;
  readonly maxBatch: number;
  /** How often held leases are renewed: well under the queue's lease time. */
  readonly heartbeatMs: number;
  /**
   * How long an idle node waits before it looks at the queue again when it had no job for it
   * (none waiting, or each left to another node by placement).
   */
  readonly pollMs: number;
  /** The node's id in the queue's placement (a fresh one when absent): unique per process. */
  readonly nodeId?: string;
}

/**
 * A worker node's loop: while a local inference worker is idle, it leases jobs from the shared
 * dispatch queue (a batch of jobs with the head's batch key) — naming its workers and the models
 * they hold, so the queue places jobs by the embedded mode's rule (`placeNext`) over every node's
 * workers, and the batch runs on the worker placement chose — renews the leases while they run,
 * lets the {@link BatchRunner} run them — the same code the embedded dispatcher uses — and then
 * ends each lease: done, or handed back when the job waits again (a stop). A job found `running`
 * under a new lease lost its previous holder (the lease expired: the node died or hung); that
 * run counts as an attempt, as a worker death does in the embedded mode. While a job runs, the
 * node follows its events on the bus: a `cancelled` one (recorded by an API node) stops its
 * progress and discards its result, and aborts the batch between steps once every job of it is
 * cancelled, as the embedded mode does.
 */
export class WorkerNode {
  readonly #d: WorkerNodeDeps;
  readonly #inFlight = new Set<Promise<void>>();
  /** Batches running on this node's workers, with the jobs cancelled in them. */
  readonly running = new RunningBatches();
  /** Leases whose renewal failed: another node may hold their job now. */
  readonly #lost = new Set<string>();
  /** Workers promised a batch whose claim is under way (not busy yet), with its model. */
  readonly #reserved = new Map<number, string>();
  readonly #nodeId: string;
  #preparing = 0;
  #pumping = false;
  #stopping = false;
  #poll: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(deps: WorkerNodeDeps) {
    this.#d = deps;
    this.#nodeId = deps.nodeId ?? randomUUID();
  }

  start(): void {
    this.#d.workers.onIdle(() => this.#pump());
    this.#heartbeat = setInterval(() => void this.#renew(), this.#d.heartbeatMs);
    this.#pump();
  }

  /** Jobs this node holds now. */
  get holding(): number {
    return this.#d.feed.leases().length;
  }

  /** Leases jobs while workers are idle; one loop at a time. */
  #pump(): void {
    if (this.#pumping || this.#stopping) return;
    this.#pumping = true;
    clearTimeout(this.#poll);
    void this.#fill()
      .catch((error: unknown) => this.#d.logger.error({ err: error }, 'leasing jobs failed'))
      .then((empty) => {
        this.#pumping = false;
        // An empty queue (or an unreachable one) is looked at again later.
        if (empty !== false && !this.#stopping)
          this.#poll = setTimeout(() => this.#pump(), this.#d.pollMs);
      });
  }

  /** Starts batches while workers are idle; true when it stopped because the queue was empty. */
  async #fill(): Promise<boolean> {
    while (!this.#stopping && this.#d.workers.idleCount() > this.#preparing) {
      this.#preparing++;
      let leases: Lease[];
      try {
        leases = await this.#leaseBatch();
      } catch (error) {
        this.#preparing--;
        throw error;
      }
      if (leases.length === 0) {
        this.#preparing--;
        return true;
      }
      this.#track(this.#runBatch(leases, leases[0]?.worker));
    }
    return false;
  }

  /**
   * What this node's workers hold, for placement: a promised worker counts as busy with its
   * batch's model, as in the embedded dispatcher. Undefined when the workers cannot tell: the
   * node then claims in plain run order.
   */
  #holdings(): NodeHoldings | undefined {
    const holdings = this.#d.workers.holdings?.();
    if (!holdings) return undefined;
    const workers = holdings.map((h) => {
      const model = this.#reserved.get(h.worker);
      return model === undefined ? h : { ...h, idle: false, models: [...h.models, model] };
    });
    return { node: this.#nodeId, workers };
  }

  /** The head job and the following ones that share its batch key, up to the batch size. */
  async #leaseBatch(): Promise<Lease[]> {
    const { queue, feed, workers, maxBatch } = this.#d;
    const head = await queue.claim(this.#holdings());
    if (!head) return [];
    if (head.worker !== undefined) this.#reserved.set(head.worker, head.item.model);
    feed.hold(head);
    const modelLimit = workers.models().find((m) => m.name === head.item.model)?.limits.maxBatch;
    const limit = Math.min(maxBatch, modelLimit ?? maxBatch);
    const leases = [head];
    while (leases.length < limit && !this.#stopping) {
      // The head's model only: its jobs are the ones that may share the batch.
      const next = await queue.claimModel(head.item.model);
      if (!next) break;
      if (next.item.batchKey !== head.item.batchKey) {
        await queue.release(next); // back to wait, for a batch of its own
        break;
      }
      feed.hold(next);
      leases.push(next);
    }
    return leases;
  }

  #track(batch: Promise<void>): void {
    const run = batch.catch((error: unknown) => {
      this.#d.logger.error({ err: error }, 'batch bookkeeping failed');
    });
    this.#inFlight.add(run);
    void run.finally(() => this.#inFlight.delete(run));
  }

  async #runBatch(leases: readonly Lease[], worker: number | undefined): Promise<void> {
    const { runner } = this.#d;
    const ids = leases.map((l) => l.item.jobId);
    const batchId = randomUUID();
    const cancelled = new Set<string>();
    let prepared = false;
    // Followed before the claim: a cancel recorded from then on reaches this node.
    const unfollow = await this.#followCancels(ids, cancelled).catch((error: unknown) => {
      this.#d.logger.error({ err: error }, 'following the jobs on the bus failed');
      return () => undefined;
    });
    try {
      const runnable: string[] = [];
      for (const id of ids) if (await this.#takeOver(id)) runnable.push(id);
      const startedAt = Date.now();
      const batch = await runner.claim(runnable, startedAt);
      this.#preparing--;
      prepared = true;
      const first = batch.jobs[0];
      if (first) {
        const entries = batch.jobs.map(entryOf);
        this.running.add({
          batchId,
          model: first.model,
          entries,
          startedAt,
          expectedMs: 0, // ETAs are the API nodes' (they see the whole queue); unused here
          cancelled,
        });
      }
      const run = runner.run(batch, {
        batchId,
        worker,
        isCancelled: (jobId) => cancelled.has(jobId),
        stopping: () => this.#stopping,
        owns: (jobId) => this.#owns(jobId),
      });
      // The worker went busy when the runner handed it the batch (synchronously, above).
      if (worker !== undefined) this.#reserved.delete(worker);
      await run;
    } finally {
      if (!prepared) this.#preparing--;
      if (worker !== undefined) this.#reserved.delete(worker);
      this.running.delete(batchId);
      unfollow();
      await this.#endLeases(ids);
    }
    this.#pump();
  }

  /** Subscribes to the jobs' events until the returned function is called. */
  async #followCancels(ids: readonly string[], cancelled: Set<string>): Promise<() => void> {
    const { bus, workers, logger } = this.#d;
    const stops = await Promise.all(
      ids.map((id) =>
        bus.onJob(id, (event) => {
          if (event.type !== 'cancelled' || cancelled.has(id)) return;
          cancelled.add(id);
          const abort = this.running.cancel(id);
          logger.info({ jobId: id, aborting: abort !== undefined }, 'job cancelled while running');
          if (abort) workers.cancel(abort);
        }),
      ),
    );
    return () => {
      for (const stop of stops) stop();
    };
  }

  /**
   * Makes a leased job claimable: a job still `running` lost its previous holder, so it goes
   * back to `queued` with that attempt counted, or fails and is refunded after its last
   * attempt. False when the job is not to run (it ended meanwhile, or failed here).
   */
  async #takeOver(jobId: string): Promise<boolean> {
    const { jobs, lifecycle } = this.#d;
    const job = await jobs.get(jobId);
    if (job?.status === 'queued') return true;
    if (job?.status !== 'running') return false;
    const outcome = await lifecycle.orphaned(
      job,
      'the worker running the job stopped answering, twice',
    );
    if (outcome !== 'retried') return false;
    this.#d.logger.warn({ jobId, attempt: job.attempts }, 'job lost its worker; running it again');
    return true;
  }

  /** Ends the leases still held: the job waits again (handed back) or is done (removed). */
  async #endLeases(jobIds: readonly string[]): Promise<void> {
    const { feed, queue, jobs } = this.#d;
    for (const id of jobIds) {
      const lease = feed.release(id);
      this.#lost.delete(id);
      if (!lease) continue; // a retry already put it back
      const job = await jobs.get(id);
      await (job?.status === 'queued' ? queue.release(lease) : queue.complete(lease));
    }
  }

  async #owns(jobId: string): Promise<boolean> {
    const lease = this.#d.feed.leases().find((l) => l.item.jobId === jobId);
    return lease !== undefined && !this.#lost.has(jobId) && this.#d.queue.heartbeat(lease);
  }

  async #renew(): Promise<void> {
    // A busy node claims nothing: its holdings are renewed here, or they would expire and its
    // models' jobs go to nodes that must load them.
    const node = this.#holdings();
    if (node && !this.#stopping)
      await this.#d.queue.present(node).catch((error: unknown) => {
        this.#d.logger.error({ err: error }, 'presenting the node to the queue failed');
      });
    for (const lease of this.#d.feed.leases()) {
      const held = await this.#d.queue.heartbeat(lease).catch((error: unknown) => {
        this.#d.logger.error({ err: error }, 'renewing a lease failed');
        return true; // unknown: the next renewal tells
      });
      if (!held && !this.#lost.has(lease.item.jobId)) {
        this.#lost.add(lease.item.jobId);
        this.#d.logger.warn({ jobId: lease.item.jobId }, 'lease lost; the job may run elsewhere');
      }
    }
  }

  /** Stops leasing and waits (up to `deadlineMs`) for the running batches to finish. */
  async stop(deadlineMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#poll);
    // Its models' jobs are no longer left for it.
    await this.#d.queue.withdraw(this.#nodeId).catch((error: unknown) => {
      this.#d.logger.error({ err: error }, 'withdrawing the node from the queue failed');
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    await Promise.race([Promise.all(this.#inFlight), deadline]);
    clearTimeout(timer);
  }

  /** Waits for every batch's bookkeeping (after the workers were closed), then stops renewing. */
  async drain(): Promise<void> {
    await Promise.all(this.#inFlight);
    clearInterval(this.#heartbeat);
  }
}
