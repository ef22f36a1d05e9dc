// Worker nodes on a shared dispatch queue and event bus (in-process adapters, fake ports,
// scripted workers; no child process): each runs batches through the same BatchRunner as the
// embedded dispatcher, renews and ends its leases, and takes over jobs whose holder was lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchRunner } from '../../src/jobs/batch-runner.ts';
import { BusEventSink } from '../../src/jobs/bus-event-sink.ts';
import { DispatchFeed } from '../../src/jobs/dispatch-feed.ts';
import { EtaEstimator } from '../../src/jobs/eta-estimator.ts';
import { EventHub } from '../../src/jobs/event-hub.ts';
import { InProcessDispatchQueue } from '../../src/jobs/in-process/in-process-dispatch-queue.ts';
import { InProcessEventBus } from '../../src/jobs/in-process/in-process-event-bus.ts';
import { isFinalEvent, type JobEvent } from '../../src/jobs/job-event.ts';
import { JobLifecycle } from '../../src/jobs/job-lifecycle.ts';
import type { Job } from '../../src/jobs/job.ts';
import type { BatchOutcome } from '../../src/jobs/inference-workers.ts';
import { dispatchItemOf } from '../../src/jobs/restore-dispatch-queue.ts';
import { WorkerNode } from '../../src/jobs/worker-node.ts';
import {
  InlineTransitions,
  MemoryBlobStore,
  MemoryJobRepository,
  MemoryUploadRepository,
  RecordingLedger,
  RecordingOutbox,
} from '../helpers/fake-job-ports.ts';
import { makeJob } from '../helpers/jobs.ts';
import { advertisedModel } from '../helpers/advertisements.ts';
import { failWith, HoldingScriptedWorkers, ScriptedWorkers } from '../helpers/scripted-workers.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const LEASE_MS = 1000;

/** What every node shares: the database (repository, ledger), the blob store, queue and bus. */
function cluster() {
  let clock = 0;
  const shared = {
    jobs: new MemoryJobRepository(),
    ledger: new RecordingLedger(),
    blobs: new MemoryBlobStore(),
    queue: new InProcessDispatchQueue({ leaseMs: LEASE_MS, now: () => clock }),
    bus: new InProcessEventBus(new EventHub()),
    /** Moves the dispatch queue's clock (lease expiry) without waiting. */
    advance: (ms: number) => (clock += ms),
  };
  const events: JobEvent[] = [];
  const finals = new Map<string, PromiseWithResolvers<JobEvent>>();
  const final = (id: string): PromiseWithResolvers<JobEvent> => {
    let entry = finals.get(id);
    if (!entry) finals.set(id, (entry = Promise.withResolvers()));
    return entry;
  };
  void shared.bus.onAll((event) => {
    events.push(event);
    if (isFinalEvent(event)) final(event.jobId).resolve(event);
  });

  const node = (options: { heartbeatMs?: number; holdings?: boolean } = {}) => {
    const workers = options.holdings ? new HoldingScriptedWorkers(1) : new ScriptedWorkers(1);
    const feed = new DispatchFeed(shared.queue, silent);
    const lifecycle = new JobLifecycle({
      transitions: new InlineTransitions({
        jobs: shared.jobs,
        ledger: shared.ledger,
        outbox: new RecordingOutbox(),
      }),
      queue: feed,
      events: new BusEventSink(shared.bus, silent),
      logger: silent,
      imageUrl: (id, index) => `http://x/v1/jobs/${id}/image?index=${index}`,
      jobUrl: (id) => `http://x/v1/jobs/${id}`,
    });
    const deps = {
      jobs: shared.jobs,
      workers,
      blobs: shared.blobs,
      uploads: new MemoryUploadRepository(),
      lifecycle,
      eta: new EtaEstimator(),
      logger: silent,
      resultTtlMs: 60_000,
    };
    const worker = new WorkerNode({
      ...deps,
      queue: shared.queue,
      feed,
      bus: shared.bus,
      runner: new BatchRunner(deps),
      maxBatch: 4,
      heartbeatMs: options.heartbeatMs ?? 50,
      pollMs: 5,
    });
    return { worker, workers, lifecycle };
  };

  const submit = async (overrides: Partial<Job> = {}): Promise<Job> => {
    const job = makeJob(overrides);
    await shared.jobs.insert(job);
    await shared.queue.add(dispatchItemOf(job));
    return job;
  };
  /** Stops a node once its batches are settled (leases ended). */
  const idle = async (n: { worker: WorkerNode }): Promise<void> => {
    await n.worker.stop(5000);
    await n.worker.drain();
  };
  const typesOf = (id: string) => events.filter((e) => e.jobId === id).map((e) => e.type);
  const done = (id: string) => final(id).promise;
  return { ...shared, node, submit, done, typesOf, idle };
}

/** A scripted run that waits: `started` resolves when it begins, `finish` answers it. */
function heldRun() {
  const started = Promise.withResolvers<void>();
  const outcome = Promise.withResolvers<BatchOutcome>();
  return {
    started: started.promise,
    finish: (answer: BatchOutcome) => outcome.resolve(answer),
    run: () => {
      started.resolve();
      return outcome.promise;
    },
  };
}

const ok: BatchOutcome = { ok: true, images: [], totalMs: 1, stepsMs: 1 };

test('a worker node batches queued jobs with equal keys, completes them, and ends every lease; events reach the bus in order', async () => {
  const c = cluster();
  const jobs = await Promise.all([c.submit(), c.submit(), c.submit({ batchKey: 'other' })]);
  const a = c.node();
  a.worker.start();
  const finals = await Promise.all(jobs.map((j) => c.done(j.id)));
  await c.idle(a);
  assert.deepEqual(
    finals.map((e) => e.type),
    ['completed', 'completed', 'completed'],
  );
  for (const job of jobs) {
    assert.deepEqual(c.typesOf(job.id), ['started', 'progress', 'completed']);
    assert.equal((await c.jobs.get(job.id))?.status, 'completed');
    assert.equal(await c.queue.state(job.id), undefined, 'its lease was ended');
  }
  assert.deepEqual(
    a.workers.runs.map((r) => r.jobs.length),
    [2, 1],
    'the two equal keys shared a batch',
  );
  assert.equal(c.blobs.blobs.size, 3);
  assert.deepEqual(c.ledger.refunds, []);
});

test('a job whose worker process died is put back on the shared queue and completes on its second attempt', async () => {
  const c = cluster();
  const job = await c.submit();
  const a = c.node();
  a.workers.script.push(failWith('WORKER_DIED'));
  a.worker.start();
  await c.done(job.id);
  await c.idle(a);
  const stored = await c.jobs.get(job.id);
  assert.equal(stored?.status, 'completed');
  assert.equal(stored?.attempts, 2);
  assert.deepEqual(c.typesOf(job.id), [
    'started',
    'progress',
    'queued',
    'started',
    'progress',
    'completed',
  ]);
  assert.deepEqual(c.ledger.refunds, []);
  assert.equal(await c.queue.state(job.id), undefined);
});

test('a hung node: its lease expires, another node takes the job over (attempt 2); the hung one records nothing', async () => {
  const c = cluster();
  const job = await c.submit();
  // Node a never renews its lease in this test's time, as a hung (SIGSTOPped) process would not.
  const a = c.node({ heartbeatMs: 60_000 });
  const hung = heldRun();
  a.workers.script.push(hung.run);
  a.worker.start();
  await hung.started;
  c.advance(LEASE_MS + 1);
  const b = c.node();
  b.worker.start();
  const final = await c.done(job.id);
  assert.equal(final.type, 'completed');
  assert.equal((await c.jobs.get(job.id))?.attempts, 2);
  // The hung node wakes up with a result: its lease is gone, so it leaves the job alone.
  hung.finish(ok);
  await c.idle(a);
  const stored = await c.jobs.get(job.id);
  assert.equal(stored?.status, 'completed');
  assert.equal(c.typesOf(job.id).filter((t) => t === 'completed').length, 1);
  assert.deepEqual(c.ledger.refunds, []);
  await c.idle(b);
});

test('a job that lost its worker on its last attempt fails with WORKER_DIED, refunded once, and leaves the queue', async () => {
  const c = cluster();
  // As the queue and repository stand after a second holder hung: running, attempt 2, lease expired.
  const job = makeJob({ status: 'running', attempts: 2, startedAt: 1 });
  await c.jobs.insert(job);
  await c.queue.add(dispatchItemOf(job));
  const a = c.node();
  a.worker.start();
  const final = await c.done(job.id);
  await c.idle(a);
  assert.equal(final.type, 'failed');
  assert.equal((await c.jobs.get(job.id))?.error?.code, 'WORKER_DIED');
  assert.deepEqual(c.ledger.refunds, [job.id]);
  assert.equal(a.workers.runs.length, 0);
  assert.equal(await c.queue.state(job.id), undefined);
});

test('a stopping node hands its interrupted job back to the queue, its attempt not counted', async () => {
  const c = cluster();
  const job = await c.submit();
  const a = c.node();
  const run = heldRun();
  a.workers.script.push(run.run);
  a.worker.start();
  await run.started;
  const stopped = a.worker.stop(0);
  await stopped;
  // Closing the workers aborts the running batch.
  run.finish({ ok: false, code: 'ABORTED', message: 'stopped', field: undefined });
  await a.worker.drain();
  const stored = await c.jobs.get(job.id);
  assert.equal(stored?.status, 'queued');
  assert.equal(stored?.attempts, 0);
  assert.equal(await c.queue.state(job.id), 'waiting');
  assert.deepEqual(c.ledger.refunds, []);
  // Another node picks it up.
  const b = c.node();
  b.worker.start();
  assert.equal((await c.done(job.id)).type, 'completed');
  await c.idle(b);
});

test('a cancel recorded by an API node reaches the node running the job: the batch runs on for its neighbour, the late result is discarded, refunded once', async () => {
  const c = cluster();
  const [kept, dropped] = [await c.submit(), await c.submit()];
  const a = c.node();
  const run = heldRun();
  a.workers.script.push(run.run);
  a.worker.start();
  await run.started;
  // The API node's cancel: a database transition (refund) and a `cancelled` event on the bus.
  const api = c.node();
  const stored = await c.jobs.get(dropped.id);
  assert.ok(stored);
  assert.ok(await api.lifecycle.cancel(stored));
  assert.equal((await c.done(dropped.id)).type, 'cancelled');
  await waitFor(() => a.worker.running.byJob(dropped.id)?.cancelled.has(dropped.id));
  assert.deepEqual(a.workers.cancelled, [], 'one job of two cancelled: the batch runs on');
  run.finish(succeedBoth(kept, dropped));
  assert.equal((await c.done(kept.id)).type, 'completed');
  await c.idle(a);
  assert.equal((await c.jobs.get(dropped.id))?.status, 'cancelled', 'the late complete lost');
  assert.deepEqual(c.ledger.refunds, [dropped.id]);
  assert.deepEqual(c.typesOf(dropped.id), ['started', 'progress', 'cancelled']);
  assert.equal(c.blobs.blobs.size, 1, 'only the kept image is stored');
  assert.equal(await c.queue.state(dropped.id), undefined, 'its lease was ended');
});

test('when every job of a running batch is cancelled, the node aborts it between steps; the job stays cancelled, refunded once', async () => {
  const c = cluster();
  const job = await c.submit();
  const a = c.node();
  const run = heldRun();
  a.workers.script.push(run.run);
  a.worker.start();
  await run.started;
  const api = c.node();
  const stored = await c.jobs.get(job.id);
  assert.ok(stored);
  assert.ok(await api.lifecycle.cancel(stored));
  await waitFor(() => a.workers.cancelled.length > 0);
  // The real workers answer an aborted batch so, between two steps.
  run.finish({ ok: false, code: 'ABORTED', message: 'cancelled', field: undefined });
  await c.idle(a);
  assert.equal((await c.jobs.get(job.id))?.status, 'cancelled');
  assert.equal((await c.jobs.get(job.id))?.attempts, 1);
  assert.deepEqual(c.ledger.refunds, [job.id]);
  assert.equal(c.typesOf(job.id).filter((t) => t === 'cancelled').length, 1);
  assert.equal(await c.queue.state(job.id), undefined);
});

test('a batch whose jobs were all cancelled after the claim, before it started, is not run: no started event after cancelled, nothing runs', async () => {
  const c = cluster();
  const job = await c.submit();
  const a = c.node();
  const api = c.node();
  // The cancel lands in the window between the node's claim (the row now `running`) and its
  // batch's start, and its event reaches the node before the batch is registered to abort.
  const claim = c.jobs.claim.bind(c.jobs);
  c.jobs.claim = async (id, now) => {
    const claimed = await claim(id, now);
    if (claimed) {
      assert.ok(await api.lifecycle.cancel(claimed));
      await c.done(id);
    }
    return claimed;
  };
  a.worker.start();
  assert.equal((await c.done(job.id)).type, 'cancelled');
  await c.idle(a);
  assert.deepEqual(a.workers.runs, [], 'the cancelled batch never reached a worker');
  assert.deepEqual(c.typesOf(job.id), ['cancelled']);
  assert.equal((await c.jobs.get(job.id))?.status, 'cancelled');
  assert.deepEqual(c.ledger.refunds, [job.id]);
  assert.equal(await c.queue.state(job.id), undefined, 'its lease was ended');
});

/** Both jobs' images, as a batch of two that ran to its end answers. */
function succeedBoth(...jobs: Job[]): BatchOutcome {
  return {
    ok: true,
    totalMs: 1,
    stepsMs: 1,
    images: jobs.map((job) => ({
      jobId: job.id,
      data: new Uint8Array([1]),
      mimeType: 'image/png',
      seed: 1,
      width: 64,
      height: 64,
      nsfw: false,
      warnings: [],
    })),
  };
}

/** Waits (polling, no fixed sleep) until `probe` holds. */
async function waitFor(probe: () => boolean | undefined): Promise<void> {
  while (!probe()) await new Promise((resolve) => setTimeout(resolve, 1));
}

test('two nodes each holding one model take their own model’s jobs; a model neither holds is still taken', async () => {
  const c = cluster();
  const a = c.node({ holdings: true });
  a.workers.served = [advertisedModel('ma', true), advertisedModel('mb', false)];
  const b = c.node({ holdings: true });
  b.workers.served = [advertisedModel('ma', false), advertisedModel('mb', true)];
  // Starting, each node claims at once, and so tells the queue what it holds.
  a.worker.start();
  b.worker.start();
  const jobs = [];
  for (const model of ['mb', 'ma', 'mb', 'ma', 'mb', 'ma'])
    jobs.push(await c.submit({ model, batchKey: model }));
  const nobodys = await c.submit({ model: 'mc', batchKey: 'mc' });
  await Promise.all([...jobs, nobodys].map((job) => c.done(job.id)));
  await c.idle(a);
  await c.idle(b);
  const modelsRun = (n: { workers: ScriptedWorkers }) => [
    ...new Set(n.workers.runs.map((r) => r.model)),
  ];
  assert.deepEqual(
    [...modelsRun(a).filter((m) => m !== 'mc'), '|', ...modelsRun(b).filter((m) => m !== 'mc')],
    ['ma', '|', 'mb'],
    'each node ran only its own model’s jobs',
  );
  assert.equal(c.typesOf(nobodys.id).at(-1), 'completed', 'mc, held by neither, ran');
});

test(
  'a node that stops withdraws what it holds: a job of its model then goes to another node at once',
  { timeout: 10_000 },
  async () => {
    const c = cluster();
    const a = c.node({ holdings: true });
    a.workers.served = [advertisedModel('ma', true), advertisedModel('mb', false)];
    const b = c.node({ holdings: true });
    b.workers.served = [advertisedModel('ma', false), advertisedModel('mb', true)];
    a.worker.start();
    b.worker.start();
    await c.idle(a);
    // The queue's clock stands still here: a's holdings would never expire, and b (holding mb,
    // wanted by nothing) would leave ma's job to a forever.
    const job = await c.submit({ model: 'ma', batchKey: 'ma' });
    assert.equal((await c.done(job.id)).type, 'completed');
    await c.idle(b);
    assert.deepEqual(
      b.workers.runs.map((r) => r.model),
      ['ma'],
    );
  },
);
