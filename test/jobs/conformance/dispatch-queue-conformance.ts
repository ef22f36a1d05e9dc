// The DispatchQueue contract (src/jobs/dispatch-queue.ts), one suite for every adapter.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { DispatchItem, DispatchQueue, Lease } from '../../../src/jobs/dispatch-queue.ts';
import { restoreDispatchQueue } from '../../../src/jobs/restore-dispatch-queue.ts';
import { MemoryJobRepository } from '../../helpers/fake-job-ports.ts';
import { makeJob } from '../../helpers/jobs.ts';
import { eventually } from '../../helpers/redis.ts';

/** One queue under test, reachable through several handles (as several nodes reach Redis). */
export interface QueueUnderTest {
  /** Another handle on the same queue: another node. */
  open(): DispatchQueue;
  /** A handle on the queue after its data was lost (Redis flushed, or the process restarted). */
  lose(): Promise<DispatchQueue>;
}

export interface DispatchQueueAdapter {
  readonly name: string;
  readonly skip: string | undefined;
  /**
   * A fresh, empty queue whose leases last `leaseMs` without a heartbeat, and whose claims pass
   * the first job of a priority over for a held model's for up to `preferForMs`.
   */
  create(leaseMs: number, preferForMs: number): QueueUnderTest;
}

let counter = 0;
function item(overrides: Partial<DispatchItem> = {}): DispatchItem {
  counter++;
  return {
    jobId: `job-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`,
    priority: 0,
    model: 'tiny',
    batchKey: 'tiny|64',
    ...overrides,
  };
}

async function claimAll(queue: DispatchQueue): Promise<Lease[]> {
  const leases: Lease[] = [];
  for (let lease = await queue.claim(); lease; lease = await queue.claim()) leases.push(lease);
  return leases;
}

export function dispatchQueueConformance(adapter: DispatchQueueAdapter): void {
  describe(`DispatchQueue conformance: ${adapter.name}`, { skip: adapter.skip }, () => {
    const handles: DispatchQueue[] = [];
    /** A queue (and a second node's handle on it) closed after the suite. */
    function fresh(leaseMs = 60_000, preferForMs = 60_000) {
      const underTest = adapter.create(leaseMs, preferForMs);
      const open = (): DispatchQueue => {
        const handle = underTest.open();
        handles.push(handle);
        return handle;
      };
      return { queue: open(), open, underTest };
    }
    after(async () => {
      await Promise.all(handles.map((h) => h.close()));
    });

    test('the highest priority first, then in the order added; nothing waiting → undefined', async () => {
      const { queue } = fresh();
      assert.equal(await queue.claim(), undefined);
      const low = item({ priority: -1 });
      const first = item();
      const second = item();
      const urgent = item({ priority: 5 });
      for (const i of [low, first, second, urgent]) await queue.add(i);
      assert.equal(await queue.waitingCount(), 4);
      const order = (await claimAll(queue)).map((l) => l.item.jobId);
      assert.deepEqual(order, [urgent.jobId, first.jobId, second.jobId, low.jobId]);
      assert.equal(await queue.waitingCount(), 0);
    });

    test('a lease carries the item as added and delivery 1; adding a waiting or leased job again changes nothing', async () => {
      const { queue } = fresh();
      const a = item({ priority: 3, model: 'sd15', batchKey: 'sd15|512' });
      await queue.add(a);
      await queue.add(a);
      assert.equal(await queue.waitingCount(), 1);
      const lease = await queue.claim();
      assert.deepEqual(lease?.item, a);
      assert.equal(lease?.delivery, 1);
      await queue.add(a);
      assert.equal(await queue.waitingCount(), 0, 'a leased job is not added again');
      assert.equal(await queue.state(a.jobId), 'leased');
    });

    test('model affinity: a claim naming held models takes their first job of the top priority, never a lower priority, and the head without one', async () => {
      const { queue } = fresh();
      const a1 = item({ model: 'a', batchKey: 'a' });
      const b1 = item({ model: 'b', batchKey: 'b' });
      const a2 = item({ model: 'a', batchKey: 'a' });
      const bLow = item({ model: 'b', batchKey: 'b', priority: -1 });
      for (const i of [a1, b1, a2, bLow]) await queue.add(i);
      assert.equal((await queue.claim(['b']))?.item.jobId, b1.jobId, 'b is held: its job first');
      assert.equal(
        (await queue.claim(['b']))?.item.jobId,
        a1.jobId,
        'no held job at the top priority: the head, not the lower-priority b',
      );
      assert.equal((await queue.claim(['c']))?.item.jobId, a2.jobId, 'nothing held: in order');
      assert.equal((await queue.claim())?.item.jobId, bLow.jobId);
    });

    test('model affinity is bounded: a head that waited preferForMs goes first, held or not', async () => {
      const { queue } = fresh(60_000, 150);
      const a = item({ model: 'a', batchKey: 'a' });
      const b = item({ model: 'b', batchKey: 'b' });
      await queue.add(a);
      await queue.add(b);
      const added = Date.now();
      assert.equal((await queue.claim(['b']))?.item.jobId, b.jobId, 'a young head is passed over');
      await queue.add(item({ model: 'b', batchKey: 'b' }));
      // The limit is a time: waits (polling) until the head has waited it.
      await eventually(() => Promise.resolve(Date.now() - added > 300 ? true : undefined));
      const first = await queue.claim(['b']);
      assert.equal(first?.item.jobId, a.jobId, 'an old head goes first, held or not');
    });

    test('two nodes claiming at once never get the same job', async () => {
      const { queue, open } = fresh();
      const other = open();
      const items = Array.from({ length: 12 }, () => item());
      for (const i of items) await queue.add(i);
      const claims = await Promise.all(
        Array.from({ length: 16 }, (_, n) => (n % 2 === 0 ? queue : other).claim()),
      );
      const ids = claims.flatMap((l) => (l ? [l.item.jobId] : []));
      assert.equal(ids.length, 12);
      assert.equal(new Set(ids).size, 12);
    });

    test('complete removes the job; release puts it back ahead of its priority, delivered once more', async () => {
      const { queue } = fresh();
      const a = item();
      const b = item();
      await queue.add(a);
      await queue.add(b);
      const leaseA = await queue.claim();
      assert.equal(leaseA?.item.jobId, a.jobId);
      assert.equal(await queue.release(leaseA), true);
      assert.equal(await queue.state(a.jobId), 'waiting');
      const again = await queue.claim();
      assert.equal(again?.item.jobId, a.jobId, 'a released job is ahead of the ones that waited');
      assert.equal(again?.delivery, 2);
      assert.equal(await queue.complete(again), true);
      assert.equal(await queue.state(a.jobId), undefined);
      assert.equal(await queue.complete(again), false, 'a lease ends once');
      assert.equal((await queue.claim())?.item.jobId, b.jobId);
    });

    test('remove takes out a waiting job only', async () => {
      const { queue } = fresh();
      const a = item();
      const b = item();
      await queue.add(a);
      await queue.add(b);
      assert.equal(await queue.remove(a.jobId), true);
      assert.equal(await queue.remove(a.jobId), false);
      assert.equal(await queue.remove('never-added'), false);
      const lease = await queue.claim();
      assert.equal(lease?.item.jobId, b.jobId);
      assert.equal(await queue.remove(b.jobId), false, 'a leased job stays with its holder');
      assert.equal(await queue.state(b.jobId), 'leased');
    });

    test('a lease kept by heartbeats holds past its time; another node cannot claim the job', async () => {
      const leaseMs = 400;
      const { queue, open } = fresh(leaseMs);
      const other = open();
      const a = item();
      await queue.add(a);
      const lease = await queue.claim();
      assert.ok(lease);
      const until = Date.now() + leaseMs * 3;
      while (Date.now() < until) {
        assert.equal(await queue.heartbeat(lease), true);
        assert.equal(await other.claim(), undefined);
        await new Promise((resolve) => setTimeout(resolve, leaseMs / 4));
      }
      assert.equal(await queue.state(a.jobId), 'leased');
      assert.equal(await queue.complete(lease), true);
    });

    test('a stalled job (no heartbeat) comes back to another node, delivered twice; the old holder lost it', async () => {
      const { queue, open } = fresh(300);
      const other = open();
      const a = item();
      await queue.add(a);
      const stalled = await queue.claim();
      assert.ok(stalled);
      const retaken = await eventually(() => other.claim());
      assert.equal(retaken.item.jobId, a.jobId);
      assert.equal(retaken.delivery, 2);
      assert.equal(await queue.heartbeat(stalled), false, 'the old lease is gone');
      assert.equal(await queue.complete(stalled), false);
      assert.equal(await queue.release(stalled), false);
      assert.equal(await queue.state(a.jobId), 'leased', 'the new holder keeps it');
      assert.equal(await other.complete(retaken), true);
    });

    test('the queue is rebuilt from the repository after losing its data: queued jobs return, orphaned running ones are reported', async () => {
      const { queue, underTest } = fresh();
      const jobs = new MemoryJobRepository();
      const waiting = [makeJob({ createdAt: 1 }), makeJob({ createdAt: 2, priority: 2 })];
      const running = makeJob({ status: 'running', attempts: 1 });
      for (const job of [...waiting, running]) await jobs.insert(job);
      const leased = makeJob();
      await jobs.insert(leased);
      await queue.add({ jobId: leased.id, priority: 0, model: 'tiny', batchKey: 'b' });
      for (const job of waiting)
        await queue.add({ jobId: job.id, priority: 0, model: 'tiny', batchKey: 'b' });
      const lost = await underTest.lose();
      handles.push(lost);
      assert.equal(await lost.waitingCount(), 0, 'the data is gone');
      await jobs.update(leased.id, { status: 'running' });

      const restored = await restoreDispatchQueue(jobs, lost);
      assert.equal(restored.requeued, 2);
      assert.deepEqual(restored.orphaned.map((j) => j.id).sort(), [running.id, leased.id].sort());
      const order = (await claimAll(lost)).map((l) => l.item.jobId);
      assert.deepEqual(order, [waiting[1]?.id, waiting[0]?.id], 'priorities kept');
      assert.deepEqual((await restoreDispatchQueue(jobs, lost)).requeued, 2);
      assert.equal(await lost.waitingCount(), 0, 'restoring again adds nothing leased');
    });
  });
}
