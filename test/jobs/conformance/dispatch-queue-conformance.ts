// The DispatchQueue contract (src/jobs/dispatch-queue.ts), one suite for every adapter.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { DispatchItem, DispatchQueue, Lease } from '../../../src/jobs/dispatch-queue.ts';
import type { NodeHoldings } from '../../../src/jobs/model-placement.ts';
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
  /** A fresh, empty queue whose leases (and nodes' holdings) last `leaseMs` without renewal. */
  create(leaseMs: number): QueueUnderTest;
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

/** A node with one worker (0) holding `models`, idle or busy. */
function node(id: string, idle: boolean, ...models: string[]): NodeHoldings {
  return { node: id, workers: [{ worker: 0, idle, models }] };
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
    function fresh(leaseMs = 60_000) {
      const underTest = adapter.create(leaseMs);
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

    test('placement: a node takes the job of the model it holds; one another idle node holds is left to it', async () => {
      const { queue, open } = fresh();
      const other = open();
      const a1 = item({ model: 'a', batchKey: 'a' });
      const b1 = item({ model: 'b', batchKey: 'b' });
      for (const i of [a1, b1]) await queue.add(i);
      await other.present(node('node-y', true, 'a'));
      const x = await queue.claim(node('node-x', true, 'b'));
      assert.equal(x?.item.jobId, b1.jobId, 'a1 is left to node-y, which holds a');
      assert.equal(x?.worker, 0, 'the lease names the worker placement chose');
      assert.equal(await queue.claim(node('node-x', true, 'b')), undefined, 'a1 still waits for y');
      assert.equal((await other.claim(node('node-y', true, 'a')))?.item.jobId, a1.jobId);
    });

    test('placement: a job whose model only a busy node holds waits for it (a lower priority runs meanwhile); an empty worker takes it at once', async () => {
      const { queue, open } = fresh();
      const other = open();
      const aHigh = item({ model: 'a', batchKey: 'a', priority: 5 });
      const b1 = item({ model: 'b', batchKey: 'b' });
      for (const i of [aHigh, b1]) await queue.add(i);
      await other.present(node('node-y', false, 'a'));
      assert.equal((await queue.claim(node('node-x', true, 'b')))?.item.jobId, b1.jobId);
      assert.equal(await queue.claim(node('node-x', true, 'b')), undefined, 'no second copy of a');
      assert.equal((await open().claim(node('node-z', true)))?.item.jobId, aHigh.jobId);
    });

    test('placement: a model nobody holds goes to an empty worker, else to one whose models nothing queued wants — nothing starves', async () => {
      const { queue, open } = fresh();
      const other = open();
      const c1 = item({ model: 'c', batchKey: 'c' });
      const a1 = item({ model: 'a', batchKey: 'a' });
      await queue.add(c1);
      await queue.add(a1);
      await other.present(node('node-y', true));
      await open().present(node('node-z', true, 'b'));
      // x holds a, which a1 wants; z's b nobody wants; y holds nothing: c1 is y's.
      assert.equal((await queue.claim(node('node-x', true, 'a')))?.item.jobId, a1.jobId);
      await other.withdraw('node-y');
      // No empty worker now: z, whose b nobody wants, loads c.
      assert.equal((await open().claim(node('node-z', true, 'b')))?.item.jobId, c1.jobId);
      const c2 = item({ model: 'c', batchKey: 'c' });
      await queue.add(c2);
      await open().withdraw('node-z');
      assert.equal(
        (await queue.claim(node('node-x', true, 'a')))?.item.jobId,
        c2.jobId,
        'the only idle node loads it',
      );
    });

    test('placement: a claim that got a job counts its worker busy with that model for the next claim', async () => {
      const { queue, open } = fresh();
      const other = open();
      const a1 = item({ model: 'a', batchKey: 'a' });
      const a2 = item({ model: 'a', batchKey: 'a' });
      const b1 = item({ model: 'b', batchKey: 'b' });
      for (const i of [a1, a2, b1]) await queue.add(i);
      await other.present(node('node-y', true));
      assert.equal((await queue.claim(node('node-x', true)))?.item.jobId, a1.jobId);
      // x (busy with a now) holds a; a2 may load on y at once, as y holds nothing.
      const y = await other.claim(node('node-y', true));
      assert.equal(y?.item.model, 'a', 'an empty worker loads a2 rather than wait for x');
    });

    test('placement: the holdings of a node that stopped renewing them expire after a lease', async () => {
      const { queue, open } = fresh(300);
      const other = open();
      const a1 = item({ model: 'a', batchKey: 'a' });
      await queue.add(a1);
      await other.present(node('node-y', true, 'a'));
      assert.equal(await queue.claim(node('node-x', true, 'b')), undefined, 'left to node-y');
      const taken = await eventually(() => queue.claim(node('node-x', true, 'b')));
      assert.equal(taken.item.jobId, a1.jobId);
    });

    test('claimModel takes the first waiting job of one model only', async () => {
      const { queue } = fresh();
      const a1 = item({ model: 'a', batchKey: 'a' });
      const b1 = item({ model: 'b', batchKey: 'b' });
      const b2 = item({ model: 'b', batchKey: 'b' });
      for (const i of [a1, b1, b2]) await queue.add(i);
      assert.equal((await queue.claimModel('b'))?.item.jobId, b1.jobId);
      assert.equal((await queue.claimModel('b'))?.item.jobId, b2.jobId);
      assert.equal(await queue.claimModel('b'), undefined);
      assert.equal(await queue.claimModel('never-added'), undefined);
      assert.equal((await queue.claim())?.item.jobId, a1.jobId);
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
