import type { PictorConfig } from '../config/index.ts';
import { ClusterDuty } from '../jobs/cluster-duty.ts';
import type { ClusterLock } from '../jobs/cluster-lock.ts';
import type { DispatchQueue } from '../jobs/dispatch-queue.ts';
import type { JobLifecycle } from '../jobs/job-lifecycle.ts';
import type { JobRepository } from '../jobs/job-repository.ts';
import { JobSweeper } from '../jobs/job-sweeper.ts';
import type { Logger } from '../jobs/logger.ts';
import { QueuedJobsSnapshot } from '../jobs/queued-jobs-snapshot.ts';
import { recoverDispatchQueue } from '../jobs/restore-dispatch-queue.ts';
import { BlobExpirySweeper } from '../storage/blob-expiry-sweeper.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { UploadRepository } from '../storage/upload-repository.ts';

export interface ClusterDutiesParts {
  readonly lock: ClusterLock;
  /** This node's id: who holds a duty. */
  readonly nodeId: string;
  readonly jobs: JobRepository;
  readonly queue: DispatchQueue;
  /** A lifecycle whose queue is the shared dispatch queue (`DispatchFeed`). */
  readonly lifecycle: JobLifecycle;
  readonly blobs: BlobStore;
  readonly uploads: UploadRepository;
  readonly logger: Logger;
}

/** The cluster's duties, each done by one node at a time. */
export interface ClusterDuties {
  /** Re-enqueues from the database (Redis lost its data), every `cluster.leaseMs`. */
  readonly restore: ClusterDuty;
  /** The TTL sweep (results, uploads, expiry of jobs waited too long, expired blobs). */
  readonly sweep: ClusterDuty;
  start(): void;
  stop(): Promise<void>;
}

/**
 * What a cluster node runs once across the cluster, under the {@link ClusterLock}: any node may
 * compose these (worker nodes do; an API node can too), and the lock picks one to do each.
 */
export function createClusterDuties(
  config: PictorConfig,
  parts: ClusterDutiesParts,
): ClusterDuties {
  const { lock, nodeId, jobs, queue, lifecycle, blobs, uploads, logger } = parts;
  const queued = new QueuedJobsSnapshot(jobs);
  const sweeper = new JobSweeper({
    jobs,
    queue: queued,
    blobs,
    uploads,
    // No hub to prune: the bus expires events itself; `lifecycle` publishes `expired` on it.
    lifecycle,
    maxWaitMs: config.queue.maxWaitSeconds * 1000,
  });
  const blobSweeper = new BlobExpirySweeper(blobs);
  const restore = new ClusterDuty({
    lock,
    name: 'restore-queue',
    holder: nodeId,
    // A job whose queue entry Redis lost waits at most about one lease, as a lost worker's does.
    intervalMs: config.cluster.leaseMs,
    logger,
    run: async () => {
      const recovered = await recoverDispatchQueue(jobs, queue, lifecycle);
      if (recovered.retried + recovered.failed > 0)
        logger.warn(recovered, 'running jobs had lost their queue entries: retried or failed');
    },
  });
  const sweep = new ClusterDuty({
    lock,
    name: 'sweep',
    holder: nodeId,
    intervalMs: config.results.sweepIntervalSeconds * 1000,
    logger,
    run: async () => {
      await queued.refresh();
      await sweeper.sweep();
      await blobSweeper.sweep();
    },
  });
  return {
    restore,
    sweep,
    start() {
      restore.start();
      sweep.start();
    },
    async stop() {
      await Promise.all([restore.stop(), sweep.stop()]);
    },
  };
}
