// The dispatcher with fake ports and scripted workers: what counts as running, and what a lost
// worker or a failed batch does to its jobs (retries, attempts, refunds). No child process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EtaEstimator } from '../../src/jobs/eta-estimator.ts';
import { EventHub } from '../../src/jobs/event-hub.ts';
import { InProcessJobQueue } from '../../src/jobs/in-process/in-process-job-queue.ts';
import { JobDispatcher } from '../../src/jobs/job-dispatcher.ts';
import { entryOf, JobLifecycle } from '../../src/jobs/job-lifecycle.ts';
import type { Job } from '../../src/jobs/job.ts';
import { RunningBatches } from '../../src/jobs/running-batches.ts';
import {
  InlineTransitions,
  MemoryBlobStore,
  MemoryJobRepository,
  MemoryUploadRepository,
  RecordingLedger,
  RecordingOutbox,
} from '../helpers/fake-job-ports.ts';
import { makeJob } from '../helpers/jobs.ts';
import { failWith, ScriptedWorkers } from '../helpers/scripted-workers.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

function setup(options: { workers?: number; blobs?: MemoryBlobStore } = {}) {
  const jobs = new MemoryJobRepository();
  const queue = new InProcessJobQueue();
  const events = new EventHub();
  const ledger = new RecordingLedger();
  const blobs = options.blobs ?? new MemoryBlobStore();
  const workers = new ScriptedWorkers(options.workers ?? 1);
  const lifecycle = new JobLifecycle({
    transitions: new InlineTransitions({ jobs, ledger, outbox: new RecordingOutbox() }),
    queue,
    events,
    logger: silent,
    imageUrl: (id, index) => `http://x/v1/jobs/${id}/image?index=${index}`,
    jobUrl: (id) => `http://x/v1/jobs/${id}`,
  });
  const dispatcher = new JobDispatcher({
    jobs,
    queue,
    workers,
    blobs,
    uploads: new MemoryUploadRepository(),
    lifecycle,
    eta: new EtaEstimator(),
    logger: silent,
    maxBatch: 4,
    resultTtlMs: 60_000,
  });
  /** Resolves with the job once it reached its final state. */
  const finished = (id: string): Promise<Job> =>
    new Promise((resolve) => {
      const off = lifecycle.onFinished((job) => {
        if (job.id !== id) return;
        off();
        resolve(job);
      });
    });
  const submit = async (overrides: Partial<Job> = {}): Promise<Job> => {
    const job = makeJob(overrides);
    await jobs.insert(job);
    queue.add(entryOf(job));
    return job;
  };
  return { jobs, queue, events, ledger, blobs, workers, dispatcher, finished, submit };
}

/** A blob store whose writes wait until `release()`; `writing` resolves at the first write. */
class GatedBlobStore extends MemoryBlobStore {
  readonly #gate = Promise.withResolvers<void>();
  readonly #writing = Promise.withResolvers<void>();
  readonly writing = this.#writing.promise;
  release(): void {
    this.#gate.resolve();
  }
  override async put(key: string, data: Uint8Array): Promise<void> {
    this.#writing.resolve();
    await this.#gate.promise;
    await super.put(key, data);
  }
}

test('a batch counts as running until its images are written and its jobs ended', async () => {
  const blobs = new GatedBlobStore();
  const p = setup({ blobs });
  const job = await p.submit();
  const done = p.finished(job.id);
  p.dispatcher.dispatch();
  await blobs.writing; // the engine is done; the result is being stored
  assert.equal(p.dispatcher.running.jobCount, 1, 'still running while its images are written');
  assert.equal(p.dispatcher.isActive(job.id), true);
  assert.equal((await p.jobs.get(job.id))?.status, 'running');
  blobs.release();
  assert.equal((await done).status, 'completed');
  await p.dispatcher.drain();
  assert.equal(p.dispatcher.running.jobCount, 0);
  assert.equal(p.blobs.blobs.size, 1);
});

test('a job whose worker died is retried once (attempt 2), then failed with WORKER_DIED and refunded', async () => {
  const p = setup();
  p.workers.script.push(failWith('WORKER_DIED'), failWith('WORKER_DIED'));
  const job = await p.submit();
  const done = p.finished(job.id);
  p.dispatcher.dispatch();
  const final = await done;
  assert.equal(final.status, 'failed');
  assert.equal(final.error?.code, 'WORKER_DIED');
  assert.equal(final.attempts, 2);
  assert.equal(p.workers.runs.length, 2);
  assert.deepEqual(p.ledger.refunds, [job.id]);
  assert.deepEqual(
    p.events.history(job.id).map((e) => e.type),
    ['started', 'progress', 'queued', 'started', 'progress', 'failed'],
  );
});

test('a job whose worker died once completes on its retry, not refunded', async () => {
  const p = setup();
  p.workers.script.push(failWith('WORKER_DIED'));
  const job = await p.submit();
  const done = p.finished(job.id);
  p.dispatcher.dispatch();
  const final = await done;
  assert.equal(final.status, 'completed');
  assert.equal(final.attempts, 2);
  assert.deepEqual(p.ledger.refunds, []);
});

test('a failed batch runs its jobs again one by one without counting the attempt; the failure stays with its job', async () => {
  const p = setup();
  const a = await p.submit({ createdAt: 1 });
  const b = await p.submit({ createdAt: 2 });
  // The batch fails, then `a` alone fails again (the culprit), then `b` alone succeeds.
  p.workers.script.push(failWith('INVALID_REQUEST'), failWith('INVALID_REQUEST'));
  const doneA = p.finished(a.id);
  const doneB = p.finished(b.id);
  p.dispatcher.dispatch();
  const [finalA, finalB] = await Promise.all([doneA, doneB]);
  assert.deepEqual(
    p.workers.runs.map((r) => r.jobs.map((j) => j.jobId)),
    [[a.id, b.id], [a.id], [b.id]],
  );
  assert.equal(finalA.status, 'failed');
  assert.equal(finalA.error?.code, 'INVALID_REQUEST');
  assert.equal(finalA.attempts, 1, 'the shared failure did not count');
  assert.equal(finalB.status, 'completed');
  assert.deepEqual(p.ledger.refunds, [a.id]);
});

test('a plain engine failure of a single job fails it at once, refunded, without a retry', async () => {
  const p = setup();
  p.workers.script.push(failWith('INVALID_IMAGE'));
  const job = await p.submit();
  const done = p.finished(job.id);
  p.dispatcher.dispatch();
  const final = await done;
  assert.equal(final.status, 'failed');
  assert.equal(p.workers.runs.length, 1);
  assert.deepEqual(p.ledger.refunds, [job.id]);
});

test('recover: a job running at a crash is retried (or failed on its second attempt); queued jobs queue again', async () => {
  const p = setup();
  const once = makeJob({ status: 'running', attempts: 1 });
  const twice = makeJob({ status: 'running', attempts: 2 });
  const waiting = makeJob();
  for (const job of [once, twice, waiting]) await p.jobs.insert(job);
  assert.deepEqual(await p.dispatcher.recover(), { requeued: 2, retried: 1, failed: 1 });
  assert.equal((await p.jobs.get(twice.id))?.status, 'failed');
  assert.deepEqual(p.ledger.refunds, [twice.id]);
  assert.deepEqual(new Set(p.queue.entries().map((e) => e.id)), new Set([once.id, waiting.id]));
});

test('running batches: a job retried into a new batch while its old one settles stays with the new one', () => {
  const running = new RunningBatches();
  const entry = entryOf(makeJob());
  const batch = (batchId: string) => ({
    batchId,
    model: entry.model,
    entries: [entry],
    startedAt: 0,
    expectedMs: 100,
    cancelled: new Set<string>(),
  });
  running.add(batch('old'));
  running.add(batch('new'));
  running.delete('old');
  assert.equal(running.byJob(entry.id)?.batchId, 'new');
  assert.equal(running.jobCount, 1);
  running.delete('new');
  assert.equal(running.byJob(entry.id), undefined);
  assert.equal(running.jobCount, 0);
});
