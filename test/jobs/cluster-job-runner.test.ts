// The API node's JobRunner with in-process ports: a job's `queued` event is on the bus before a
// worker can lease it; positions come from the repository's view; a cancel is the lifecycle's
// transition (refund, `cancelled` on the bus) and a worker's later completion changes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BusEventSink } from '../../src/jobs/bus-event-sink.ts';
import { ClusterJobRunner } from '../../src/jobs/cluster-job-runner.ts';
import { DispatchFeed } from '../../src/jobs/dispatch-feed.ts';
import { EtaEstimator } from '../../src/jobs/eta-estimator.ts';
import { EventHub } from '../../src/jobs/event-hub.ts';
import { InProcessDispatchQueue } from '../../src/jobs/in-process/in-process-dispatch-queue.ts';
import { InProcessEventBus } from '../../src/jobs/in-process/in-process-event-bus.ts';
import { InProcessJobQueue } from '../../src/jobs/in-process/in-process-job-queue.ts';
import { JobLifecycle } from '../../src/jobs/job-lifecycle.ts';
import {
  InlineTransitions,
  MemoryJobRepository,
  RecordingLedger,
  RecordingOutbox,
} from '../helpers/fake-job-ports.ts';
import { makeJob } from '../helpers/jobs.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

function setup() {
  const jobs = new MemoryJobRepository();
  const ledger = new RecordingLedger();
  const hub = new EventHub();
  const bus = new InProcessEventBus(hub);
  const queue = new InProcessDispatchQueue({ leaseMs: 60_000 });
  const feed = new DispatchFeed(queue, silent);
  const sink = new BusEventSink(bus, silent);
  const lifecycle = new JobLifecycle({
    transitions: new InlineTransitions({ jobs, ledger, outbox: new RecordingOutbox() }),
    queue: feed,
    events: sink,
    logger: silent,
    imageUrl: (id, index) => `http://x/v1/jobs/${id}/image?index=${index}`,
    jobUrl: (id) => `http://x/v1/jobs/${id}`,
  });
  const runner = new ClusterJobRunner({
    lifecycle,
    feed,
    published: () => sink.flush(),
    dispatch: queue,
    jobs,
    workers: { count: 1, models: () => [], readyInMs: () => 0 },
    eta: new EtaEstimator(),
    newQueue: () => new InProcessJobQueue(),
    logger: silent,
    maxBatch: 4,
    refreshMs: 60_000,
  });
  return { jobs, ledger, hub, queue, lifecycle, runner };
}

test('enqueue: the queued event is on the bus before the job can be leased; positions follow', async () => {
  const p = setup();
  const first = makeJob({ createdAt: 1 });
  const second = makeJob({ createdAt: 2 });
  for (const job of [first, second]) await p.jobs.insert(job);
  // Whoever leases the job sees its `queued` event already published.
  const seenAtLease: string[] = [];
  const add = p.queue.add.bind(p.queue);
  p.queue.add = (item) => {
    seenAtLease.push(
      p.hub
        .history(item.jobId)
        .map((e) => e.type)
        .join(','),
    );
    return add(item);
  };
  assert.equal((await p.runner.enqueue(first)).position, 0);
  assert.equal((await p.runner.enqueue(second)).position, 1);
  assert.deepEqual(seenAtLease, ['queued', 'queued']);
  assert.equal(await p.runner.waiting(), 2);
  assert.equal(p.runner.queueStats().depth, 2);
  // The view read again from the repository agrees.
  await p.runner.refresh();
  assert.equal(p.runner.progress(second).position, 1);
});

test('cancel of a job a worker runs: refunded once, `cancelled` on the bus; the late completion changes nothing', async () => {
  const p = setup();
  const job = makeJob();
  await p.jobs.insert(job);
  await p.runner.enqueue(job);
  const lease = await p.queue.claim();
  assert.ok(lease);
  const running = await p.jobs.claim(job.id, Date.now());
  assert.ok(running);
  const cancelled = await p.runner.cancel(running);
  assert.equal(cancelled?.status, 'cancelled');
  assert.equal(await p.runner.cancel(running), undefined, 'a second cancel changes nothing');
  const late = await p.lifecycle.complete(
    running,
    { images: [], warnings: [], generationTime: 1 },
    60_000,
  );
  assert.equal(late, undefined);
  assert.equal((await p.jobs.get(job.id))?.status, 'cancelled');
  assert.deepEqual(p.ledger.refunds, [job.id]);
  await new Promise<void>((resolve) => setImmediate(resolve));
  const types = p.hub.history(job.id).map((e) => e.type);
  assert.deepEqual(
    types.filter((t) => ['completed', 'cancelled'].includes(t)),
    ['cancelled'],
  );
  assert.equal(p.runner.isActive(), false, 'an API node always asks the repository');
});
