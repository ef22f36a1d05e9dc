// The TTL sweeper with fake ports: what one pass removes, expires and refunds. No timers run:
// `sweep(now)` is called with the clock it should see.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventHub } from '../../src/jobs/event-hub.ts';
import { InProcessJobQueue } from '../../src/jobs/in-process/in-process-job-queue.ts';
import { entryOf, JobLifecycle } from '../../src/jobs/job-lifecycle.ts';
import { JobSweeper } from '../../src/jobs/job-sweeper.ts';
import type { Job, JobResult } from '../../src/jobs/job.ts';
import { makeJob } from '../helpers/jobs.ts';
import {
  InlineTransitions,
  MemoryBlobStore,
  MemoryJobRepository,
  MemoryUploadRepository,
  RecordingLedger,
  RecordingOutbox,
} from '../helpers/fake-job-ports.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

function setup(retainMs?: number) {
  const jobs = new MemoryJobRepository();
  const queue = new InProcessJobQueue();
  const events = new EventHub(retainMs);
  const ledger = new RecordingLedger();
  const outbox = new RecordingOutbox();
  const blobs = new MemoryBlobStore();
  const uploads = new MemoryUploadRepository();
  const lifecycle = new JobLifecycle({
    transitions: new InlineTransitions({ jobs, ledger, outbox }),
    queue,
    events,
    logger: silent,
    imageUrl: (id, index) => `http://x/v1/jobs/${id}/image?index=${index}`,
    jobUrl: (id) => `http://x/v1/jobs/${id}`,
  });
  const sweeper = new JobSweeper({
    jobs,
    queue,
    blobs,
    uploads,
    retained: events,
    lifecycle,
    maxWaitMs: 1000,
  });
  const queued = async (overrides: Partial<Job> = {}): Promise<Job> => {
    const job = makeJob(overrides);
    await jobs.insert(job);
    queue.add(entryOf(job));
    return job;
  };
  return { jobs, queue, events, ledger, outbox, blobs, uploads, lifecycle, sweeper, queued };
}

function resultWith(...keys: string[]): JobResult {
  return {
    images: keys.map((key, i) => ({
      key,
      seed: i,
      mimeType: 'image/png',
      width: 1,
      height: 1,
      nsfw: false,
    })),
    warnings: [],
    generationTime: 0,
  };
}

test('sweeper: expires only jobs queued too long (refunded, evented), deletes expired results and uploads', async () => {
  const p = setup();
  const { blobs, uploads, sweeper } = p;
  const now = Date.now();
  const old = await p.queued({ createdAt: now - 5000 });
  const fresh = await p.queued({ createdAt: now - 10 });
  const done = makeJob({
    status: 'completed',
    finishedAt: now - 5000,
    resultExpiresAt: now - 1,
    result: {
      images: [
        {
          key: 'results/a-0.png',
          seed: 1,
          mimeType: 'image/png',
          width: 1,
          height: 1,
          nsfw: false,
        },
      ],
      warnings: [],
      generationTime: 0,
    },
  });
  await p.jobs.insert(done);
  await blobs.put('results/a-0.png', new Uint8Array([1]));
  await uploads.insert({
    id: 'up_1',
    owner: 'local',
    key: 'uploads/up_1',
    mimeType: 'image/png',
    size: 1,
    createdAt: 0,
    expiresAt: now - 1,
  });
  await blobs.put('uploads/up_1', new Uint8Array([1]));

  assert.deepEqual(await sweeper.sweep(now), { results: 1, uploads: 1, expired: 1 });
  assert.equal((await p.jobs.get(old.id))?.status, 'expired');
  assert.equal((await p.jobs.get(fresh.id))?.status, 'queued');
  assert.deepEqual(
    p.queue.entries().map((e) => e.id),
    [fresh.id],
  );
  assert.deepEqual(p.ledger.refunds, [old.id]);
  assert.deepEqual(
    p.events.history(old.id).map((e) => e.type),
    ['expired'],
  );
  assert.equal((await p.jobs.get(done.id))?.resultDeleted, true);
  assert.equal(blobs.blobs.size, 0);
  assert.equal(uploads.rows.size, 0);
  assert.deepEqual(await sweeper.sweep(now), { results: 0, uploads: 0, expired: 0 }, 'idempotent');
});

test('sweeper: a job that left the queue meanwhile (cancelled, started) is not expired twice or refunded again', async () => {
  const p = setup();
  const now = Date.now();
  const cancelled = await p.queued({ createdAt: now - 5000, webhookUrl: 'http://hook' });
  const started = await p.queued({ createdAt: now - 5000 });
  // Both left `queued` in the repository while their queue entries were still listed.
  await p.jobs.update(cancelled.id, { status: 'cancelled', finishedAt: now });
  await p.jobs.claim(started.id, now);
  assert.deepEqual(await p.sweeper.sweep(now), { results: 0, uploads: 0, expired: 0 });
  assert.equal((await p.jobs.get(started.id))?.status, 'running');
  assert.deepEqual(p.ledger.refunds, []);
  assert.deepEqual(p.outbox.recorded, []);
});

test('sweeper: an expired job records its webhook; results not yet expired and deleted ones stay', async () => {
  const p = setup();
  const now = Date.now();
  const old = await p.queued({ createdAt: now - 1001, webhookUrl: 'http://hook' });
  const fresh = makeJob({
    status: 'completed',
    resultExpiresAt: now + 60_000,
    result: resultWith('results/fresh-0.png'),
  });
  const gone = makeJob({
    status: 'completed',
    resultExpiresAt: now - 1,
    resultDeleted: true,
    result: resultWith('results/gone-0.png'),
  });
  await p.jobs.insert(fresh);
  await p.jobs.insert(gone);
  await p.blobs.put('results/fresh-0.png', new Uint8Array([1]));
  assert.deepEqual(await p.sweeper.sweep(now), { results: 0, uploads: 0, expired: 1 });
  assert.deepEqual(
    p.outbox.recorded.map((j) => [j.id, j.status]),
    [[old.id, 'expired']],
  );
  assert.ok(p.blobs.blobs.has('results/fresh-0.png'));
});

test('sweeper: the event logs of jobs finished longer ago than the retention are pruned', async () => {
  const p = setup(1000);
  const job = await p.queued();
  await p.lifecycle.cancel(job);
  const finishedAt = Date.now();
  await p.sweeper.sweep(finishedAt + 10);
  assert.equal(p.events.history(job.id).length, 1, 'kept within the retention');
  await p.sweeper.sweep(finishedAt + 5000);
  assert.deepEqual(p.events.history(job.id), []);
});
