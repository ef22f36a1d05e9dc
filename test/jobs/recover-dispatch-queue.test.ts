// Recovery of the dispatch queue from the repository (fake ports, the in-process queue and bus):
// what a node does after Redis lost its data, on start and on every restore duty pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BusEventSink } from '../../src/jobs/bus-event-sink.ts';
import { DispatchFeed } from '../../src/jobs/dispatch-feed.ts';
import { EventHub } from '../../src/jobs/event-hub.ts';
import { InProcessDispatchQueue } from '../../src/jobs/in-process/in-process-dispatch-queue.ts';
import { InProcessEventBus } from '../../src/jobs/in-process/in-process-event-bus.ts';
import type { JobEvent } from '../../src/jobs/job-event.ts';
import { JobLifecycle } from '../../src/jobs/job-lifecycle.ts';
import { dispatchItemOf, recoverDispatchQueue } from '../../src/jobs/restore-dispatch-queue.ts';
import {
  InlineTransitions,
  MemoryJobRepository,
  RecordingLedger,
  RecordingOutbox,
} from '../helpers/fake-job-ports.ts';
import { makeJob } from '../helpers/jobs.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

test('recovery re-adds queued jobs, retries an orphaned running job once, fails and refunds one at its last attempt; repeating it changes nothing', async () => {
  const jobs = new MemoryJobRepository();
  const ledger = new RecordingLedger();
  const queue = new InProcessDispatchQueue({ leaseMs: 60_000 });
  const bus = new InProcessEventBus(new EventHub());
  const events: JobEvent[] = [];
  await bus.onAll((event) => void events.push(event));
  const sink = new BusEventSink(bus, silent);
  const lifecycle = new JobLifecycle({
    transitions: new InlineTransitions({ jobs, ledger, outbox: new RecordingOutbox() }),
    queue: new DispatchFeed(queue, silent),
    events: sink,
    logger: silent,
    imageUrl: (id, index) => `http://x/v1/jobs/${id}/image?index=${index}`,
    jobUrl: (id) => `http://x/v1/jobs/${id}`,
  });
  const queued = makeJob({ createdAt: 1 });
  const firstRun = makeJob({ status: 'running', attempts: 1, createdAt: 2 });
  const lastRun = makeJob({ status: 'running', attempts: 2, createdAt: 3 });
  const held = makeJob({ status: 'running', attempts: 1, createdAt: 4 });
  for (const job of [queued, firstRun, lastRun, held]) await jobs.insert(job);
  // A running job whose lease the queue still has is its holder's, not an orphan.
  await queue.add(dispatchItemOf(held));
  assert.equal((await queue.claim())?.item.jobId, held.id);

  assert.deepEqual(await recoverDispatchQueue(jobs, queue, lifecycle), {
    requeued: 1,
    retried: 1,
    failed: 1,
  });
  await sink.flush();
  assert.equal((await jobs.get(firstRun.id))?.status, 'queued');
  assert.equal((await jobs.get(firstRun.id))?.attempts, 1, 'the lost run counted');
  assert.equal((await jobs.get(lastRun.id))?.status, 'failed');
  assert.equal((await jobs.get(lastRun.id))?.error?.code, 'WORKER_DIED');
  assert.deepEqual(ledger.refunds, [lastRun.id]);
  assert.equal((await jobs.get(held.id))?.status, 'running');
  assert.deepEqual(
    events.map((e) => `${e.jobId} ${e.type}`).sort(),
    [`${lastRun.id} failed`, `${firstRun.id} queued`].sort(),
  );
  assert.equal(await queue.waitingCount(), 2);
  assert.deepEqual((await recoverDispatchQueue(jobs, queue, lifecycle)).retried, 0);
  assert.equal(await queue.waitingCount(), 2, 'adding again is a no-op');
  assert.deepEqual(ledger.refunds, [lastRun.id], 'refunded once');
});
