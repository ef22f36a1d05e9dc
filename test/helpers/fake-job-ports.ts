import { checkBlobKey, type BlobPutOptions, type BlobStore } from '../../src/storage/blob-store.ts';
import type { Upload, UploadRepository } from '../../src/storage/upload-repository.ts';
import type { Job, JobPatch, JobStatus } from '../../src/jobs/job.ts';
import type { JobRepository } from '../../src/jobs/job-repository.ts';
import type { Charge, Ledger } from '../../src/jobs/ledger.ts';
import type {
  FinishedJobOutbox,
  TransitionStore,
  TransitionWrites,
} from '../../src/jobs/transition-store.ts';

/** {@link JobRepository} in a Map, with the same conditional transitions as the SQL one. */
export class MemoryJobRepository implements JobRepository {
  readonly rows = new Map<string, Job>();

  insert(job: Job): Promise<void> {
    this.rows.set(job.id, job);
    return Promise.resolve();
  }
  get(id: string): Promise<Job | undefined> {
    return Promise.resolve(this.rows.get(id));
  }
  transition(
    id: string,
    from: readonly JobStatus[],
    patch: JobPatch,
    attempt?: number,
  ): Promise<boolean> {
    const job = this.rows.get(id);
    if (!job || !from.includes(job.status)) return Promise.resolve(false);
    if (attempt !== undefined && job.attempts !== attempt) return Promise.resolve(false);
    this.rows.set(id, { ...job, ...patch });
    return Promise.resolve(true);
  }
  claim(id: string, startedAt: number): Promise<Job | undefined> {
    const job = this.rows.get(id);
    if (job?.status !== 'queued') return Promise.resolve(undefined);
    const claimed: Job = { ...job, status: 'running', startedAt, attempts: job.attempts + 1 };
    this.rows.set(id, claimed);
    return Promise.resolve(claimed);
  }
  update(id: string, patch: JobPatch): Promise<void> {
    const job = this.rows.get(id);
    if (job) this.rows.set(id, { ...job, ...patch });
    return Promise.resolve();
  }
  listByOwner(owner: string): Promise<Job[]> {
    return Promise.resolve([...this.rows.values()].filter((j) => j.owner === owner));
  }
  listByStatus(statuses: readonly JobStatus[]): Promise<Job[]> {
    return Promise.resolve([...this.rows.values()].filter((j) => statuses.includes(j.status)));
  }
  listExpiredResults(now: number, limit: number): Promise<Job[]> {
    const expired = [...this.rows.values()].filter(
      (j) => j.resultExpiresAt !== null && j.resultExpiresAt < now && !j.resultDeleted,
    );
    return Promise.resolve(expired.slice(0, limit));
  }
  countByStatus(): Promise<Partial<Record<JobStatus, number>>> {
    const counts: Partial<Record<JobStatus, number>> = {};
    for (const job of this.rows.values()) counts[job.status] = (counts[job.status] ?? 0) + 1;
    return Promise.resolve(counts);
  }
}

/** A ledger that records refunds and, like the real one, refunds a job at most once. */
export class RecordingLedger implements Ledger {
  readonly refunds: string[] = [];
  charge(): Promise<Charge> {
    return Promise.resolve({ creditsUsed: 1, creditsRemaining: 0 });
  }
  refund(job: Job): Promise<void> {
    if (!this.refunds.includes(job.id)) this.refunds.push(job.id);
    return Promise.resolve();
  }
  balance(): Promise<number | null> {
    return Promise.resolve(null);
  }
}

/** An outbox that records each finished job it was given, and calls `onRecord` (ordering checks). */
export class RecordingOutbox implements FinishedJobOutbox {
  readonly recorded: Job[] = [];
  onRecord: (job: Job) => void = () => undefined;
  record(job: Job): Promise<void> {
    this.recorded.push(job);
    this.onRecord(job);
    return Promise.resolve();
  }
}

/**
 * {@link TransitionStore} over the fakes above, without atomicity: unit tests of the lifecycle
 * check what a transition writes; the Kysely store's tests check that it writes it atomically.
 */
export class InlineTransitions implements TransitionStore {
  readonly #writes: TransitionWrites;
  constructor(writes: TransitionWrites) {
    this.#writes = writes;
  }
  run<T>(work: (writes: TransitionWrites) => Promise<T>): Promise<T> {
    return work(this.#writes);
  }
}

/** A rejection, like the real adapters', for a key {@link checkBlobKey} refuses. */
const checked = (key: string): Promise<void> => Promise.resolve().then(() => checkBlobKey(key));

/** {@link BlobStore} in a map; the blob-store conformance suite runs over it too. */
export class MemoryBlobStore implements BlobStore {
  readonly blobs = new Map<string, Uint8Array>();
  readonly #expiries = new Map<string, number>();
  async put(key: string, data: Uint8Array, options: BlobPutOptions = {}): Promise<void> {
    await checked(key);
    this.blobs.delete(key);
    this.#expiries.delete(key);
    const { expiresAt } = options;
    if (expiresAt !== undefined && expiresAt <= Date.now()) return;
    this.blobs.set(key, data);
    if (expiresAt !== undefined) this.#expiries.set(key, expiresAt);
  }
  async get(key: string): Promise<Buffer | undefined> {
    await checked(key);
    const data = this.blobs.get(key);
    const expired = (this.#expiries.get(key) ?? Infinity) <= Date.now();
    return data && !expired ? Buffer.from(data) : undefined;
  }
  async delete(key: string): Promise<void> {
    await checked(key);
    this.blobs.delete(key);
    this.#expiries.delete(key);
  }
  deleteExpired(now: number, limit: number): Promise<number> {
    let removed = 0;
    for (const [key, expiresAt] of this.#expiries) {
      if (removed >= limit) break;
      if (expiresAt > now) continue;
      this.blobs.delete(key);
      this.#expiries.delete(key);
      removed++;
    }
    return Promise.resolve(removed);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class MemoryUploadRepository implements UploadRepository {
  readonly rows = new Map<string, Upload>();
  insert(upload: Upload): Promise<void> {
    this.rows.set(upload.id, upload);
    return Promise.resolve();
  }
  async insertWithinQuota(
    upload: Upload,
    quotaBytes: number,
  ): Promise<{ inserted: boolean; heldBytes: number }> {
    const heldBytes = await this.storedBytes(upload.owner, upload.createdAt);
    if (heldBytes + upload.size > quotaBytes) return { inserted: false, heldBytes };
    this.rows.set(upload.id, upload);
    return { inserted: true, heldBytes };
  }
  get(id: string): Promise<Upload | undefined> {
    return Promise.resolve(this.rows.get(id));
  }
  delete(id: string): Promise<void> {
    this.rows.delete(id);
    return Promise.resolve();
  }
  storedBytes(owner: string, now: number): Promise<number> {
    let total = 0;
    for (const u of this.rows.values())
      if (u.owner === owner && u.expiresAt >= now) total += u.size;
    return Promise.resolve(total);
  }
  listExpired(now: number, limit: number): Promise<Upload[]> {
    return Promise.resolve(
      [...this.rows.values()].filter((u) => u.expiresAt < now).slice(0, limit),
    );
  }
}
