// Admission's refusals and their advice: TOO_MANY_JOBS tells a key to come back when its own
// soonest job is expected to end, not when anyone's batch does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InProcessLimitCounters } from '../../src/accounts/in-process/in-process-limit-counters.ts';
import { SlotAdmission } from '../../src/accounts/slot-admission.ts';
import { ProblemError } from '../../src/errors/index.ts';
import { EtaEstimator } from '../../src/jobs/eta-estimator.ts';
import { EventHub } from '../../src/jobs/event-hub.ts';
import { InProcessJobQueue } from '../../src/jobs/in-process/in-process-job-queue.ts';
import { JobAdmission } from '../../src/jobs/job-admission.ts';
import { JobForecast } from '../../src/jobs/job-forecast.ts';
import { entryOf } from '../../src/jobs/job-lifecycle.ts';
import type { Job } from '../../src/jobs/job.ts';
import { RunningBatches } from '../../src/jobs/running-batches.ts';
import { MemoryJobRepository } from '../helpers/fake-job-ports.ts';
import { makeJob } from '../helpers/jobs.ts';

function setup(maxQueued = 100) {
  const jobs = new MemoryJobRepository();
  const queue = new InProcessJobQueue();
  const running = new RunningBatches();
  const forecast = new JobForecast(
    { queue, eta: new EtaEstimator(), dispatcher: { running }, workers: { count: 1 } },
    4,
  );
  const slots = new SlotAdmission(new InProcessLimitCounters(), new EventHub(), {
    leaseMs: 60_000,
  });
  const runner = {
    waiting: () => Promise.resolve(queue.size),
    progress: (job: Job) => forecast.progress(job),
    nextFinishMs: () => forecast.nextFinishMs(),
  };
  const admission = new JobAdmission({ runner, jobs, admission: slots }, { maxQueued });
  /** A job of `owner` running in its own batch, expected to end in `remainingMs`. */
  const runningJob = async (owner: string, remainingMs: number): Promise<Job> => {
    const job = makeJob({ owner, status: 'running' });
    await jobs.insert(job);
    await slots.adopt([job]);
    running.add({
      batchId: `b-${job.id}`,
      model: job.model,
      entries: [entryOf(job)],
      startedAt: Date.now(),
      expectedMs: remainingMs,
      cancelled: new Set(),
    });
    return job;
  };
  const queuedJob = async (owner: string): Promise<Job> => {
    const job = makeJob({ owner });
    await jobs.insert(job);
    await slots.adopt([job]);
    queue.add(entryOf(job));
    return job;
  };
  return { admission, forecast, slots, runningJob, queuedJob };
}

async function refusal(promise: Promise<unknown>): Promise<ProblemError> {
  const error = await promise.then(
    () => assert.fail('admitted'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ProblemError);
  return error;
}

const keyA = { owner: 'key-a', maxPriority: 0, maxJobs: 1 };

test('TOO_MANY_JOBS: Retry-After from the key’s own running job, not another key’s sooner batch', async () => {
  const p = setup();
  await p.runningJob('key-b', 1_000);
  await p.runningJob('key-a', 7_400);
  const error = await refusal(p.admission.admit(keyA, 'next'));
  assert.equal(error.code, 'TOO_MANY_JOBS');
  assert.equal(error.headers?.['retry-after'], '8');
  assert.equal(error.extensions?.['retry_after'], 8);
  p.slots.stop();
});

test('TOO_MANY_JOBS: a key whose job waits in the queue is told its expected finish', async () => {
  const p = setup();
  await p.runningJob('key-b', 1_000);
  const waiting = await p.queuedJob('key-a');
  const expectedMs = p.forecast.progress(waiting).waitRemainingMs;
  assert.ok(expectedMs !== undefined && expectedMs > 1_000, `${expectedMs}`);
  const error = await refusal(p.admission.admit(keyA, 'next'));
  assert.equal(error.code, 'TOO_MANY_JOBS');
  assert.equal(error.headers?.['retry-after'], String(Math.ceil(expectedMs / 1000)));
  p.slots.stop();
});

test('QUEUE_FULL comes before the key’s own limit and takes no slot', async () => {
  const p = setup(1);
  await p.queuedJob('key-b');
  const error = await refusal(p.admission.admit(keyA, 'next'));
  assert.equal(error.code, 'QUEUE_FULL');
  assert.match(error.headers?.['retry-after'] ?? '', /^[1-9]\d*$/);
  assert.equal(await p.slots.count('key-a'), 0);
  p.slots.stop();
});
