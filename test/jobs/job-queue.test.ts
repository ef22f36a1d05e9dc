// The JobQueue contract, run against every adapter (today the in-process one; a BullMQ adapter
// joins this list), plus the ETA arithmetic that reads the queue.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EtaEstimator } from '../../src/jobs/eta-estimator.ts';
import { InProcessJobQueue } from '../../src/jobs/in-process/in-process-job-queue.ts';
import { workUnits, type JobQueue, type QueueEntry } from '../../src/jobs/job-queue.ts';

const ADAPTERS: { name: string; create: () => JobQueue }[] = [
  { name: 'in-process', create: () => new InProcessJobQueue() },
];

let clock = 0;
function entry(id: string, overrides: Partial<QueueEntry> = {}): QueueEntry {
  clock += 1;
  return {
    id,
    priority: 0,
    createdAt: clock,
    batchKey: 'tiny|64x64|20',
    model: 'tiny',
    images: 1,
    steps: 20,
    pixels: 64 * 64,
    ...overrides,
  };
}

for (const { name, create } of ADAPTERS) {
  describe(`JobQueue conformance: ${name}`, () => {
    test('orders by priority, then first come first served; positions and ahead follow', () => {
      const queue = create();
      queue.add(entry('a'));
      queue.add(entry('b'));
      queue.add(entry('vip', { priority: 5 }));
      queue.add(entry('c'));
      queue.add(entry('a')); // a second add is a no-op
      assert.equal(queue.size, 4);
      assert.deepEqual(
        queue.entries().map((e) => e.id),
        ['vip', 'a', 'b', 'c'],
      );
      assert.equal(queue.position('vip'), 0);
      assert.equal(queue.position('c'), 3);
      assert.equal(queue.position('nope'), undefined);
      assert.deepEqual(
        queue.ahead('b').map((e) => e.id),
        ['vip', 'a'],
      );
      assert.equal(queue.remove('a'), true);
      assert.equal(queue.remove('a'), false);
      assert.equal(queue.position('c'), 2);
    });

    test('takeBatch takes the head and compatible followers within the job and image limits', () => {
      const queue = create();
      queue.add(entry('h'));
      queue.add(entry('other', { batchKey: 'tiny|128x128|20', pixels: 128 * 128 }));
      queue.add(entry('x', { images: 2 }));
      queue.add(entry('y', { images: 2 }));
      queue.add(entry('z'));
      const batch = queue.takeBatch(3, 4);
      assert.deepEqual(
        batch.map((e) => e.id),
        ['h', 'x', 'z'],
      );
      assert.deepEqual(
        queue.entries().map((e) => e.id),
        ['other', 'y'],
      );
      assert.deepEqual(
        queue.takeBatch(8, 1).map((e) => e.id),
        ['other'],
      );
    });

    test('totals always equal the sums over the waiting jobs', () => {
      const queue = create();
      const ids: string[] = [];
      for (let i = 0; i < 200; i++) {
        const id = `j${i}`;
        queue.add(
          entry(id, {
            priority: i % 7 === 0 ? 3 : 0,
            model: i % 5 < 2 ? 'sd' : 'tiny',
            batchKey: `k${i % 5}`,
            steps: 1 + (i % 9),
            images: 1 + (i % 2),
          }),
        );
        ids.push(id);
        if (i % 4 === 3) queue.remove(ids[(i * 7) % ids.length] ?? '');
        if (i % 50 === 49) queue.takeBatch(4, 8);
        const counts = new Map<string, number>();
        const units = new Map<string, number>();
        for (const e of queue.entries()) {
          counts.set(e.batchKey, (counts.get(e.batchKey) ?? 0) + 1);
          units.set(e.model, (units.get(e.model) ?? 0) + workUnits(e));
        }
        const totals = queue.totals();
        assert.deepEqual(
          new Map([...totals.perBatchKey].map(([key, value]) => [key, value.count])),
          counts,
        );
        for (const [model, sum] of units) {
          assert.ok(Math.abs((totals.unitsPerModel.get(model) ?? 0) - sum) < 1e-9, model);
        }
      }
    });
  });
}

describe('EtaEstimator', () => {
  test('the back-of-queue shortcut gives the same forecast as walking the queue', () => {
    const eta = new EtaEstimator();
    eta.record('tiny', { steps: 20, images: 1, pixels: 4096, totalMs: 300, stepsMs: 200 });
    eta.record('sd', { steps: 10, images: 2, pixels: 262144, totalMs: 5000, stepsMs: 4500 });
    const queue = new InProcessJobQueue();
    for (let i = 0; i < 60; i++) {
      // A batch key always implies its model (it starts with the model's name).
      const sd = i % 6 < 2;
      queue.add(
        entry(`e${i}`, {
          model: sd ? 'sd' : 'tiny',
          batchKey: `${sd ? 'sd' : 'tiny'}|k${i % 6}`,
          steps: 1 + (i % 11),
          pixels: sd ? 262144 : 4096,
        }),
      );
      const self = queue.entries().at(-1) as QueueEntry;
      const walked = eta.waitMs(queue.ahead(self.id), self, [120, 40], 2, 4);
      const shortcut = eta.waitMsAtBack(queue.totals(), self, [120, 40], 2, 4);
      assert.ok(Math.abs(walked - shortcut) < 1e-6 * walked, `${walked} vs ${shortcut}`);
    }
  });

  test('forecasts follow measured step times and grow with steps and size', () => {
    const eta = new EtaEstimator();
    eta.record('tiny', { steps: 10, images: 1, pixels: 4096, totalMs: 150, stepsMs: 100 });
    const small = eta.jobMs(entry('s', { steps: 10 }));
    assert.ok(Math.abs(small - 150) < 1e-6, `${small}`);
    assert.ok(eta.jobMs(entry('t', { steps: 20 })) > small);
    assert.ok(eta.jobMs(entry('u', { pixels: 4 * 4096 })) > small);
  });

  test('a wait adds the running batches’ time left and the work ahead, shared over the workers; batchable jobs share the overhead', () => {
    const eta = new EtaEstimator();
    // 10 steps × 1 image × (4096 / 1e6) MP in 100 ms of steps: stepMs per unit; 50 ms overhead.
    eta.record('tiny', { steps: 10, images: 1, pixels: 4096, totalMs: 150, stepsMs: 100 });
    const self = entry('self', { steps: 10 });
    const one = eta.jobMs(self);
    assert.ok(Math.abs(eta.waitMs([], self, [], 1, 4) - one) < 1e-6, 'nothing ahead: its own run');
    const ahead = [entry('a', { steps: 10 }), entry('b', { steps: 10 })];
    const alone = eta.waitMs(ahead, self, [], 1, 1);
    assert.ok(Math.abs(alone - 3 * one) < 1e-6, 'unbatched: each job ahead pays its overhead');
    const batched = eta.waitMs(ahead, self, [], 1, 4);
    assert.ok(Math.abs(batched - (one * 2 - 50 + one)) < 1e-6, 'batched: one overhead for both');
    const running = eta.waitMs(ahead, self, [300, 100], 2, 1);
    assert.ok(Math.abs(running - ((300 + 100 + 2 * one) / 2 + one)) < 1e-6, 'two workers share it');
  });
});
