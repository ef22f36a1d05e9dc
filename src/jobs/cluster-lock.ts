/**
 * A named lease that at most one holder has at a time, across every node of a cluster: what
 * makes a duty (the TTL sweep, re-enqueueing from the database) run once across the cluster
 * rather than once per node. `in-process/` implements it in memory (the embedded mode, tests),
 * `redis/` with one key per lock; one conformance suite (`test/jobs/conformance/`) runs over both.
 *
 * Contract:
 * - `acquire(name, holder, ttlMs)` takes the lock when nobody holds it (or its lease ran out),
 *   or renews it for `ttlMs` when `holder` already holds it; true when `holder` holds it after
 *   the call, false (nothing changed) when another holder does.
 * - A lease not renewed within `ttlMs` ends by itself: a holder that died or hung loses the lock.
 *   A holder must therefore keep its work shorter than the lease, or renew while it works.
 * - `release(name, holder)` ends the lease at once, only if `holder` holds it; false otherwise.
 * - Locks of different names are independent.
 */
export interface ClusterLock {
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
  release(name: string, holder: string): Promise<boolean>;
  /** Closes connections; held leases run out by themselves. */
  close(): Promise<void>;
}
