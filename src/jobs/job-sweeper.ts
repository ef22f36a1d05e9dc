import type { BlobStore } from '../storage/blob-store.ts';
import type { UploadRepository } from '../storage/upload-repository.ts';
import type { EventHub } from './event-hub.ts';
import type { JobLifecycle } from './job-lifecycle.ts';
import type { JobQueue } from './job-queue.ts';
import type { JobRepository } from './job-repository.ts';

export interface SweeperDeps {
  readonly jobs: JobRepository;
  /** Whose entries expire: the embedded queue, or a cluster node's `QueuedJobsSnapshot`. */
  readonly queue: Pick<JobQueue, 'entries'>;
  readonly blobs: BlobStore;
  readonly uploads: UploadRepository;
  /**
   * The embedded mode's event hub, whose finished jobs' events each pass prunes; absent on a
   * cluster node, whose bus expires a job's stream by itself. (A job this sweeper expires is
   * announced by the lifecycle, on whatever its event sink is: the bus on a cluster node.)
   */
  readonly retained?: Pick<EventHub, 'prune'>;
  /** Ends the jobs that waited too long: refund, webhook row and `expired` event with it. */
  readonly lifecycle: JobLifecycle;
  readonly maxWaitMs: number;
}

/**
 * The TTL sweeper: deletes expired results and uploads (later reads answer `410 Gone`) and
 * expires jobs that waited in the queue longer than allowed.
 */
export class JobSweeper {
  readonly #d: SweeperDeps;
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: SweeperDeps) {
    this.#d = deps;
  }

  start(intervalMs: number, onError: (error: unknown) => void): void {
    this.#timer = setInterval(() => {
      this.sweep().catch(onError);
    }, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One pass; returns what it removed. */
  async sweep(now = Date.now()): Promise<{ results: number; uploads: number; expired: number }> {
    const { jobs, blobs, uploads, queue, retained, lifecycle } = this.#d;
    let results = 0;
    for (const job of await jobs.listExpiredResults(now, 500)) {
      await jobs.update(job.id, { resultDeleted: true });
      await Promise.all((job.result?.images ?? []).map((image) => blobs.delete(image.key)));
      results++;
    }
    const stale = await uploads.listExpired(now, 500);
    for (const upload of stale) {
      await blobs.delete(upload.key);
      await uploads.delete(upload.id);
    }
    let expired = 0;
    for (const entry of [...queue.entries()]) {
      if (now - entry.createdAt <= this.#d.maxWaitMs) continue;
      const job = await jobs.get(entry.id);
      if (job && (await lifecycle.expire(job, now))) expired++;
    }
    retained?.prune(now);
    return { results, uploads: stale.length, expired };
  }
}
