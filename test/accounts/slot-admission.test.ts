// In-flight limits (max_jobs) on LimitCounters slots, one suite over the in-process counters and
// Redis: two API nodes, each with its own admission and its own event hub, share one limit; a
// slot is freed by every way a job ends, renewed while the job lives, and comes back by itself
// when the node that held it died.
import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import { SlotAdmission } from '../../src/accounts/slot-admission.ts';
import { ProblemError } from '../../src/errors/index.ts';
import { EventHub } from '../../src/jobs/event-hub.ts';
import { InProcessJobQueue } from '../../src/jobs/in-process/in-process-job-queue.ts';
import { entryOf, JobLifecycle } from '../../src/jobs/job-lifecycle.ts';
import type { Job } from '../../src/jobs/job.ts';
import {
  InlineTransitions,
  MemoryJobRepository,
  RecordingLedger,
  RecordingOutbox,
} from '../helpers/fake-job-ports.ts';
import { makeJob } from '../helpers/jobs.ts';
import { LIMIT_COUNTER_ADAPTERS } from '../helpers/limit-counter-adapters.ts';

const caller = { owner: 'key-1', maxPriority: 0, maxJobs: 3 };
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

const isTooMany = (error: unknown): boolean =>
  error instanceof ProblemError && error.code === 'TOO_MANY_JOBS';

/** Waits (one turn of the loop at a time) until `owner` holds `count` slots on `node`. */
async function untilCount(node: SlotAdmission, owner: string, count: number): Promise<void> {
  for (let i = 0; i < 1000 && (await node.count(owner)) !== count; i++) {
    await new Promise((resolve) => setImmediate(resolve)); // a release is one round trip
  }
  assert.equal(await node.count(owner), count);
}

for (const { name, skip, open } of LIMIT_COUNTER_ADAPTERS) {
  describe(`SlotAdmission: ${name}`, { skip }, () => {
    test('50 concurrent submissions with max_jobs 3 on two nodes: exactly 3 admitted', async () => {
      const [a, b] = open();
      const hubA = new EventHub();
      const hubB = new EventHub();
      const nodeA = new SlotAdmission(a, hubA, { leaseMs: 60_000 });
      const nodeB = new SlotAdmission(b, hubB, { leaseMs: 60_000 });
      const outcomes = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 === 0 ? nodeA : nodeB).reserve(caller, `job-${i}`),
        ),
      );
      const admitted = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
      assert.equal(admitted.length, 3);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') assert.ok(isTooMany(outcome.reason));
      }
      assert.equal(await nodeB.count('key-1'), 3);

      // One admitted job finishes; the node that hears its final event frees the slot.
      const finished = `job-${admitted[0]}`;
      hubB.emit(finished, 'key-1', 'cancelled', { job_id: finished, status: 'cancelled' });
      await untilCount(nodeA, 'key-1', 2);
      const release = await nodeA.reserve(caller, 'job-late');
      await assert.rejects(nodeB.reserve(caller, 'job-later'), isTooMany);
      // A job refused after admission (e.g. no credits) gives its slot back, once.
      await release();
      await release();
      assert.equal(await nodeB.count('key-1'), 2);
      nodeA.stop();
      nodeB.stop();
    });

    test('a caller without a limit takes no slot', async () => {
      const [counters] = open();
      const admission = new SlotAdmission(counters, new EventHub(), { leaseMs: 60_000 });
      for (let i = 0; i < 10; i++) await admission.reserve({ ...caller, maxJobs: 0 }, `j-${i}`);
      assert.equal(await admission.count('key-1'), 0);
      admission.stop();
    });

    test('every way a job ends frees its slot exactly once: complete, fail, cancel, expire', async () => {
      const [counters] = open();
      const jobs = new MemoryJobRepository();
      const queue = new InProcessJobQueue();
      const events = new EventHub();
      const lifecycle = new JobLifecycle({
        transitions: new InlineTransitions({
          jobs,
          ledger: new RecordingLedger(),
          outbox: new RecordingOutbox(),
        }),
        queue,
        events,
        logger: silent,
        imageUrl: (id, index) => `http://x/v1/jobs/${id}/image?index=${index}`,
        jobUrl: (id) => `http://x/v1/jobs/${id}`,
      });
      const admission = new SlotAdmission(counters, events, { leaseMs: 60_000 });
      const one = { owner: 'key-ends', maxPriority: 0, maxJobs: 1 };
      const accept = async (): Promise<Job> => {
        const job = makeJob({ owner: one.owner });
        await admission.reserve(one, job.id);
        await jobs.insert(job);
        queue.add(entryOf(job));
        lifecycle.accepted(job, 0, 0);
        await assert.rejects(admission.reserve(one, `${job.id}-next`), isTooMany);
        return job;
      };
      const running = async (job: Job): Promise<Job> => {
        queue.remove(job.id);
        const claimed = await jobs.claim(job.id, Date.now());
        assert.ok(claimed);
        lifecycle.started([claimed]);
        return claimed;
      };
      const result = { images: [], warnings: [], generationTime: 0 };
      const endings: Record<string, (job: Job) => Promise<Job | undefined>> = {
        complete: async (job) => lifecycle.complete(await running(job), result, 60_000),
        fail: async (job) =>
          lifecycle.fail(await running(job), { code: 'X', message: 'scripted' }, ['running']),
        'cancel while queued': (job) => lifecycle.cancel(job),
        'cancel while running': async (job) => lifecycle.cancel(await running(job)),
        expire: (job) => lifecycle.expire(job, Date.now()),
      };
      for (const [ending, end] of Object.entries(endings)) {
        const job = await accept();
        assert.ok(await end(job), ending);
        await untilCount(admission, one.owner, 0);
        // The next job takes the slot; a late second ending of the first must not free it.
        const next = await accept();
        assert.equal(await lifecycle.cancel(job), undefined, `${ending}: already final`);
        assert.equal(await admission.count(one.owner), 1, `${ending}: next job keeps its slot`);
        assert.ok(await lifecycle.cancel(next));
        await untilCount(admission, one.owner, 0);
      }
      admission.stop();
    });

    test('jobs in flight at start are adopted over the limit and freed by their final events', async () => {
      const [counters] = open();
      const events = new EventHub();
      const admission = new SlotAdmission(counters, events, { leaseMs: 60_000 });
      const found = ['a', 'b', 'c', 'd'].map((id) => ({ id: `adopted-${id}`, owner: 'key-a' }));
      await admission.adopt(found);
      assert.equal(await admission.count('key-a'), 4);
      const limited = { owner: 'key-a', maxPriority: 0, maxJobs: 3 };
      await assert.rejects(admission.reserve(limited, 'new'), isTooMany);
      for (const { id } of found.slice(0, 2))
        events.emit(id, 'key-a', 'cancelled', { job_id: id, status: 'cancelled' });
      await untilCount(admission, 'key-a', 2);
      await admission.reserve(limited, 'new');
      admission.stop();
    });

    test('a live node renews its slots; a dead node’s slots come back when their lease ends', async (t) => {
      // The clock and the renewal timer are the test's: the counters judge leases by the
      // callers' clock, so both adapters see the same time.
      mock.timers.enable({ apis: ['setInterval', 'Date'], now: Date.now() });
      t.after(() => mock.timers.reset());
      const [a, b] = open();
      const leaseMs = 30_000;
      const nodeA = new SlotAdmission(a, new EventHub(), { leaseMs });
      const nodeB = new SlotAdmission(b, new EventHub(), { leaseMs });
      const one = { owner: 'key-lease', maxPriority: 0, maxJobs: 1 };
      await nodeA.reserve(one, 'long-job');
      for (let i = 0; i < 9; i++) {
        mock.timers.tick(leaseMs / 3); // a renewal round
        await nodeA.count(one.owner); // after the renewal, on the same connection
      }
      // Three leases later, the job's slot is still held.
      await assert.rejects(nodeB.reserve(one, 'other'), isTooMany);
      nodeA.stop(); // the node dies: no more renewals, no final event
      mock.timers.tick(leaseMs);
      assert.equal(await nodeB.count(one.owner), 0);
      await nodeB.reserve(one, 'other');
      nodeB.stop();
    });
  });
}
