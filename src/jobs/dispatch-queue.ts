import type { NodeHoldings } from './model-placement.ts';

/** What a worker node needs to pick a queued job; the job itself lives in the repository. */
export interface DispatchItem {
  readonly jobId: string;
  /** Higher runs first. */
  readonly priority: number;
  readonly model: string;
  /** Jobs with equal keys can share a UNet batch. */
  readonly batchKey: string;
}

/** A claimed job, held by one claimant until its lease ends. */
export interface Lease {
  readonly item: DispatchItem;
  /** Proves the holder: only it can renew, complete or release the lease. */
  readonly token: string;
  /**
   * How many times the job has been claimed, this claim included: 1 the first time, more when a
   * lease expired (its holder died or hung) or was released and the job came back.
   */
  readonly delivery: number;
  /** The claimant's worker placement chose to run it (claims that named their workers). */
  readonly worker?: number | undefined;
}

/**
 * The cross-process queue worker nodes claim jobs from. The repository stays the source of truth
 * for a job's state and billing; this only decides who runs what next, so it can be rebuilt from
 * the repository when its data is lost ({@link restoreDispatchQueue}). `in-process/` implements
 * it in memory, `redis/` on BullMQ; one conformance suite (`test/jobs/conformance/`) runs over both.
 *
 * Model-aware dispatch in a cluster follows {@link placeNext}'s rule, decided on a snapshot of
 * the waiting jobs and of every live node's holdings by {@link placeForNode} — the same code the
 * embedded dispatcher runs, so the rule has one implementation.
 *
 * Contract:
 * - Order: the highest `priority` first; equal priorities in the order they were added.
 * - Placement: a claim may name its node and the node's workers with the models they hold
 *   ({@link NodeHoldings}). The queue records them (they live the adapter's lease time, renewed by
 *   every claim and by {@link DispatchQueue.present}) and hands the claim the first job in run
 *   order that placeNext, placing the waiting jobs on every live node's workers, gives one of
 *   this node's, naming that worker in the lease; none when every waiting job is left to another
 *   node (an idle holder of its model, or a busy holder that will take it when free). A claim that
 *   gets a job records its worker as busy with the job's model at once, so other nodes place the
 *   jobs behind as the embedded dispatcher does after promising a worker a batch. A node that
 *   died stops counting once its holdings expire; a node stopping withdraws them. Concurrent
 *   claims decide on the same snapshot: each still gets at most one job, possibly one the next
 *   snapshot would have left to another node.
 * - A claim that names no node takes the first job in run order (tools, tests).
 * - `add` is idempotent: adding a job that is waiting or leased changes nothing.
 * - `claim` takes the next waiting job and leases it for the adapter's lease time; the lease is
 *   renewed by `heartbeat`. A lease not renewed in time expires and its job waits again (at the
 *   head of its priority), to be claimed with `delivery` one higher; the adapter notices expiry
 *   within its check interval. A claim never hands one job to two holders at once.
 * - `claimModel` takes the first waiting job of one model (filling a batch): no placement.
 * - `heartbeat`, `complete` and `release` answer false, changing nothing, when the lease is no
 *   longer held (it expired, or the data was lost): the holder must then not assume it owns the job.
 * - `complete` removes the job (whatever its outcome: the repository records that); `release`
 *   puts it back to wait at once (a worker stopping).
 * - `remove` takes out a waiting job (cancelled, expired); leased jobs stay with their holder.
 */
export interface DispatchQueue {
  add(item: DispatchItem): Promise<void>;
  /**
   * The next waiting job for `node` (see the contract's placement), leased to the caller;
   * undefined when none waits for it. Without `node`, the first waiting job.
   */
  claim(node?: NodeHoldings): Promise<Lease | undefined>;
  /** The first waiting job of `model`, leased to the caller (a batch being filled). */
  claimModel(model: string): Promise<Lease | undefined>;
  /** Records (renews) a node's holdings without claiming: a busy node between its claims. */
  present(node: NodeHoldings): Promise<void>;
  /** Forgets a node's holdings (it stops): its models' jobs go to the other nodes at once. */
  withdraw(node: string): Promise<void>;
  heartbeat(lease: Lease): Promise<boolean>;
  complete(lease: Lease): Promise<boolean>;
  release(lease: Lease): Promise<boolean>;
  /** False when the job was not waiting. */
  remove(jobId: string): Promise<boolean>;
  /** Where the job is: waiting, leased, or unknown to the queue. */
  state(jobId: string): Promise<'waiting' | 'leased' | undefined>;
  /** Jobs waiting (not leased). */
  waitingCount(): Promise<number>;
  /** Stops timers and connections; the queue's data stays (it is shared). */
  close(): Promise<void>;
}
