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
}

/**
 * The cross-process queue worker nodes claim jobs from. The repository stays the source of truth
 * for a job's state and billing; this only decides who runs what next, so it can be rebuilt from
 * the repository when its data is lost ({@link restoreDispatchQueue}). `in-process/` implements
 * it in memory, `redis/` on BullMQ; one conformance suite (`test/jobs/conformance/`) runs over both.
 *
 * Contract:
 * - Order: the highest `priority` first; equal priorities in the order they were added.
 * - Model affinity: a claim may name the models its node holds loaded (`prefer`). Among the
 *   waiting jobs of the highest waiting priority it then takes the first whose model it holds,
 *   and only without one the first of them. A job is never passed over for a lower priority, and
 *   not for longer than the adapter's `preferForMs`: once the first job of the top priority has
 *   waited that long it goes first, held or not (no model's jobs starve behind another's).
 *   Concurrent claims may see a head another node just took: each claim still gets one job, at
 *   most one priority tier out of order for that moment.
 * - `add` is idempotent: adding a job that is waiting or leased changes nothing.
 * - `claim` takes the next waiting job and leases it for the adapter's lease time; the lease is
 *   renewed by `heartbeat`. A lease not renewed in time expires and its job waits again (at the
 *   head of its priority), to be claimed with `delivery` one higher; the adapter notices expiry
 *   within its check interval. A claim never hands one job to two holders at once.
 * - `heartbeat`, `complete` and `release` answer false, changing nothing, when the lease is no
 *   longer held (it expired, or the data was lost): the holder must then not assume it owns the job.
 * - `complete` removes the job (whatever its outcome: the repository records that); `release`
 *   puts it back to wait at once (a worker stopping).
 * - `remove` takes out a waiting job (cancelled, expired); leased jobs stay with their holder.
 */
export interface DispatchQueue {
  add(item: DispatchItem): Promise<void>;
  /**
   * The next waiting job, leased to the caller; undefined when none waits. `prefer`: the models
   * the caller holds loaded (see the contract's model affinity).
   */
  claim(prefer?: readonly string[]): Promise<Lease | undefined>;
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
