import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventHub } from '../../src/jobs/event-hub.ts';
import { InProcessJobQueue } from '../../src/jobs/in-process/in-process-job-queue.ts';
import { entryOf, JobLifecycle } from '../../src/jobs/job-lifecycle.ts';
import type { Job } from '../../src/jobs/job.ts';
import { makeJob } from '../helpers/jobs.ts';
import {
  InlineTransitions,
  MemoryJobRepository,
  RecordingLedger,
  RecordingOutbox,
} from '../helpers/fake-job-ports.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

function setup() {
  const jobs = new MemoryJobRepository();
  const queue = new InProcessJobQueue();
  const events = new EventHub();
  const ledger = new RecordingLedger();
  const outbox = new RecordingOutbox();
  const lifecycle = new JobLifecycle({
    transitions: new InlineTransitions({ jobs, ledger, outbox }),
    queue,
    events,
    logger: silent,
    imageUrl: (id, index) => `http://x/v1/jobs/${id}/image?index=${index}`,
    jobUrl: (id) => `http://x/v1/jobs/${id}`,
  });
  const finished: Job[] = [];
  lifecycle.onFinished((job) => finished.push(job));
  return { jobs, queue, events, ledger, outbox, lifecycle, finished };
}

async function queued(p: ReturnType<typeof setup>, overrides: Partial<Job> = {}): Promise<Job> {
  const job = makeJob(overrides);
  await p.jobs.insert(job);
  p.queue.add(entryOf(job));
  return job;
}

test('cancel: once only — the queue entry goes, one refund, one outbox row, one event, one listener call', async () => {
  const p = setup();
  const job = await queued(p, { webhookUrl: 'http://hook' });
  const cancelled = await p.lifecycle.cancel(job);
  assert.equal(cancelled?.status, 'cancelled');
  assert.equal(await p.lifecycle.cancel(job), undefined, 'a second cancel does nothing');
  assert.equal(p.queue.size, 0);
  assert.deepEqual(p.ledger.refunds, [job.id]);
  assert.deepEqual(
    p.outbox.recorded.map((j) => j.status),
    ['cancelled'],
  );
  assert.deepEqual(
    p.events.history(job.id).map((e) => e.type),
    ['cancelled'],
  );
  assert.deepEqual(
    p.finished.map((j) => j.id),
    [job.id],
  );
  assert.equal((await p.jobs.get(job.id))?.status, 'cancelled');
});

test('a completion and a cancel race: the first wins, the loser changes nothing; a completion is not refunded', async () => {
  const p = setup();
  const job = await queued(p);
  const running = await p.jobs.claim(job.id, Date.now());
  assert.ok(running);
  const result = { images: [], warnings: [], generationTime: 0.1 };
  const completed = await p.lifecycle.complete(running, result, 60_000);
  assert.equal(completed?.status, 'completed');
  assert.equal(await p.lifecycle.cancel(running), undefined);
  assert.deepEqual(p.ledger.refunds, []);
  const [final] = p.events.history(job.id);
  assert.equal(final?.type, 'completed');
  if (final?.type === 'completed') assert.equal(final.data.generation_time, 0.1);
  assert.ok((completed?.resultExpiresAt ?? 0) > Date.now());
});

test('the outbox row is written before the final event goes out', async () => {
  const p = setup();
  const job = await queued(p, { webhookUrl: 'http://hook' });
  const order: string[] = [];
  p.outbox.onRecord = () => order.push('outbox');
  p.events.onJob(job.id, job.owner, (e) => order.push(e.type));
  await p.lifecycle.fail(job, { code: 'X', message: 'x' }, ['queued']);
  assert.deepEqual(order, ['outbox', 'failed']);
  const [event] = p.events.history(job.id);
  assert.ok(event?.type === 'failed');
  assert.deepEqual(event.data.error, { code: 'X', message: 'x' });
});

test('retry: running → queued with the attempts given; `alone` keeps it out of batches; a finished job is not retried', async () => {
  const p = setup();
  const job = await queued(p);
  const running = await p.jobs.claim(job.id, Date.now());
  assert.ok(running);
  p.queue.takeBatch(1, 1);
  assert.equal(await p.lifecycle.retry(running, { attempts: 0, alone: true, requeue: true }), true);
  const stored = await p.jobs.get(job.id);
  assert.equal(stored?.status, 'queued');
  assert.equal(stored?.attempts, 0);
  assert.equal(p.queue.entries()[0]?.batchKey, `alone:${job.id}`);
  const [event] = p.events.history(job.id);
  assert.ok(event?.type === 'queued' && event.data.retry === true);
  await p.lifecycle.cancel(job);
  assert.equal(
    await p.lifecycle.retry(running, { attempts: 1, alone: false, requeue: true }),
    false,
  );
  assert.equal(p.queue.size, 0);
});

test('fencing: a run that lost its job (taken over, now at attempt 2) can neither complete, fail nor retry it; a cancel still can', async () => {
  const p = setup();
  const job = await queued(p);
  p.queue.remove(job.id);
  const firstRun = await p.jobs.claim(job.id, 1);
  assert.ok(firstRun);
  // The first run's node hung past its lease: the job was taken over and runs again.
  assert.equal(await p.lifecycle.orphaned(firstRun, 'hung'), 'retried');
  const secondRun = await p.jobs.claim(job.id, 2);
  assert.equal(secondRun?.attempts, 2);
  const result = { images: [], warnings: [], generationTime: 0.1 };
  assert.equal(await p.lifecycle.complete(firstRun, result, 1000), undefined);
  assert.equal(
    await p.lifecycle.fail(firstRun, { code: 'X', message: 'x' }, ['running']),
    undefined,
  );
  assert.equal(
    await p.lifecycle.retry(firstRun, { attempts: 1, alone: false, requeue: true }),
    false,
  );
  assert.equal((await p.jobs.get(job.id))?.status, 'running');
  assert.deepEqual(p.ledger.refunds, []);
  assert.equal((await p.lifecycle.cancel(firstRun))?.status, 'cancelled', 'anyone may cancel');
  assert.deepEqual(p.ledger.refunds, [job.id]);
});
