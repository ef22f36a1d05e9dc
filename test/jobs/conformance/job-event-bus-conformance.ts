// The JobEventBus contract (src/jobs/job-event-bus.ts), one suite for every adapter.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { followJob } from '../../../src/jobs/follow-job-events.ts';
import type { JobEvent } from '../../../src/jobs/job-event.ts';
import type { JobEventBus, UnsequencedJobEvent } from '../../../src/jobs/job-event-bus.ts';

/** One bus under test, reachable from several nodes. */
export interface BusUnderTest {
  /** Another node's handle on the same bus. */
  open(): JobEventBus;
}

export interface JobEventBusAdapter {
  readonly name: string;
  readonly skip: string | undefined;
  create(): BusUnderTest;
}

let jobs = 0;
function newJob(): string {
  return `job-${process.pid}-${++jobs}-${Math.random().toString(36).slice(2, 8)}`;
}

function progress(jobId: string, step: number, owner = 'alice'): UnsequencedJobEvent {
  return { jobId, owner, type: 'progress', data: { job_id: jobId, step, total_steps: 100 } };
}

function completed(jobId: string, owner = 'alice'): UnsequencedJobEvent {
  return {
    jobId,
    owner,
    type: 'completed',
    data: {
      job_id: jobId,
      status: 'completed',
      retrieval_url: `http://x/v1/jobs/${jobId}`,
      images: [],
      generation_time: 0.5,
      warnings: [],
    },
  };
}

function cancelled(jobId: string, owner = 'alice'): UnsequencedJobEvent {
  return {
    jobId,
    owner,
    type: 'cancelled',
    data: { job_id: jobId, status: 'cancelled' },
  };
}

const stepOf = (e: JobEvent): number | string => (e.type === 'progress' ? e.data.step : e.type);

/** A publish the bus stored (not dropped after the job's final event). */
async function stored(publishing: Promise<JobEvent | undefined>): Promise<JobEvent> {
  const event = await publishing;
  assert.ok(event, 'the event was stored');
  return event;
}

/** Collects events until `done(events)` holds. */
function collector(done: (events: JobEvent[]) => boolean) {
  const events: JobEvent[] = [];
  const finished = Promise.withResolvers<JobEvent[]>();
  return {
    events,
    finished: finished.promise,
    listener: (event: JobEvent): void => {
      events.push(event);
      if (done(events)) finished.resolve(events);
    },
  };
}

export function jobEventBusConformance(adapter: JobEventBusAdapter): void {
  describe(`JobEventBus conformance: ${adapter.name}`, { skip: adapter.skip }, () => {
    const handles: JobEventBus[] = [];
    function nodes(): [JobEventBus, JobEventBus] {
      const underTest = adapter.create();
      const a = underTest.open();
      const b = underTest.open();
      handles.push(a, b);
      return [a, b];
    }
    after(async () => {
      await Promise.all(handles.map((h) => h.close()));
    });

    test('publish sequences a job’s events, increasing across nodes; replay answers them after an id, from any node', async () => {
      const [a, b] = nodes();
      const job = newJob();
      const published: JobEvent[] = [];
      for (let step = 1; step <= 6; step++)
        published.push(await stored((step % 2 === 0 ? b : a).publish(progress(job, step))));
      published.push(await stored(a.publish(completed(job))));
      const seqs = published.map((e) => e.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
      );
      assert.equal(new Set(seqs).size, seqs.length);
      assert.deepEqual(await b.replay(job, 0), published);
      assert.deepEqual(await a.replay(job, published[3]?.seq ?? 0), published.slice(4));
      assert.deepEqual(await a.replay(job, published.at(-1)?.seq ?? 0), []);
      assert.deepEqual(await a.replay(newJob(), 0), [], 'an unknown job has no events');
    });

    test('subscribers on another node get a job’s events in order, once; by job, by owner and all', async () => {
      const [publisher, subscriber] = nodes();
      const job = newJob();
      const other = newJob();
      const isDone = (events: JobEvent[]): boolean =>
        events.some((e) => e.jobId === job && e.type === 'completed');
      const byJob = collector(isDone);
      const byOwner = collector(isDone);
      const all = collector(isDone);
      const offs = [
        await subscriber.onJob(job, byJob.listener),
        await subscriber.onOwner('alice', byOwner.listener),
        await subscriber.onAll(all.listener),
      ];
      await publisher.publish(progress(other, 1, 'bob'));
      for (let step = 1; step <= 5; step++) await publisher.publish(progress(job, step));
      const last = await publisher.publish(completed(job));
      await Promise.all([byJob.finished, byOwner.finished, all.finished]);
      assert.deepEqual(byJob.events.map(stepOf), [1, 2, 3, 4, 5, 'completed']);
      assert.deepEqual(byOwner.events.map(stepOf), [1, 2, 3, 4, 5, 'completed']);
      assert.deepEqual(
        all.events.map((e) => `${e.jobId === job ? 'job' : 'other'}:${stepOf(e)}`),
        ['other:1', 'job:1', 'job:2', 'job:3', 'job:4', 'job:5', 'job:completed'],
      );
      assert.deepEqual(byJob.events.at(-1), last, 'delivered as published, seq included');
      for (const off of offs) off();
    });

    test('live events carry previews; an unsubscribed listener gets nothing more; a throwing one stops no other', async () => {
      const [publisher, subscriber] = nodes();
      const job = newJob();
      const kept = collector((events) => events.length === 2);
      const dropped: JobEvent[] = [];
      const firstDropped = Promise.withResolvers<void>();
      const offThrowing = await subscriber.onJob(job, () => {
        throw new Error('a broken client');
      });
      const offDropped = await subscriber.onJob(job, (e) => {
        dropped.push(e);
        firstDropped.resolve();
      });
      const offKept = await subscriber.onJob(job, kept.listener);
      const withPreview: UnsequencedJobEvent = {
        jobId: job,
        owner: 'alice',
        type: 'progress',
        data: { job_id: job, step: 1, total_steps: 2, preview: 'data:image/jpeg;base64,AAAA' },
      };
      await publisher.publish(withPreview);
      await firstDropped.promise; // delivery may come after publish resolves (another node)
      offDropped();
      await publisher.publish(completed(job));
      const [first] = await kept.finished;
      assert.ok(first?.type === 'progress');
      assert.equal(first.data.preview, 'data:image/jpeg;base64,AAAA');
      assert.equal(dropped.length, 1);
      offThrowing();
      offKept();
    });

    test('a job’s stream ends with its first final event: a later progress or final event, from any node, is neither stored nor delivered', async () => {
      const [worker, api] = nodes();
      const job = newJob();
      const seen: JobEvent[] = [];
      const off = await api.onJob(job, (e) => seen.push(e));
      await stored(worker.publish(progress(job, 1)));
      // An API node's cancel, then the worker's progress that crossed it, and a final event
      // synthesized for the stream by a reader who thought it had none (the race of two nodes).
      const end = await stored(api.publish(cancelled(job)));
      assert.equal(await worker.publish(progress(job, 2)), undefined);
      assert.equal(await api.publish(completed(job)), undefined);
      assert.equal(await worker.publish(cancelled(job)), undefined);
      // Delivery may trail the publish on another node: wait for the stream's own last word.
      const marker = newJob();
      const markerSeen = Promise.withResolvers<void>();
      const offMarker = await api.onJob(marker, () => markerSeen.resolve());
      await worker.publish(progress(marker, 1));
      await markerSeen.promise;
      assert.deepEqual(seen.map(stepOf), [1, 'cancelled']);
      assert.deepEqual((await worker.replay(job, 0)).map(stepOf), [1, 'cancelled']);
      assert.deepEqual(seen.at(-1), end);
      off();
      offMarker();
    });

    test('followJob resumes after a Last-Event-ID while events keep coming: none missed, none twice, in order', async () => {
      const [publisher, reader] = nodes();
      const job = newJob();
      const early: JobEvent[] = [];
      for (let step = 1; step <= 5; step++)
        early.push(await stored(publisher.publish(progress(job, step))));
      const seen = collector((events) => events.at(-1)?.type === 'completed');
      const publishing = (async () => {
        for (let step = 6; step <= 30; step++) await publisher.publish(progress(job, step));
        await publisher.publish(completed(job));
      })();
      const unsubscribe = await followJob(reader, job, early[1]?.seq ?? 0, seen.listener);
      await publishing;
      const events = await seen.finished;
      unsubscribe();
      const expected = [...Array.from({ length: 28 }, (_, i) => i + 3), 'completed'];
      assert.deepEqual(events.map(stepOf), expected);
    });
  });
}
