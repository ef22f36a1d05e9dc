// In-flight limits (max_jobs) on LimitCounters slots, over the in-process counters and Redis:
// two API nodes, each with its own admission and its own event hub, share one limit.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SlotAdmission } from '../../src/accounts/slot-admission.ts';
import { ProblemError } from '../../src/errors/index.ts';
import { EventHub } from '../../src/jobs/event-hub.ts';
import { LIMIT_COUNTER_ADAPTERS } from '../helpers/limit-counter-adapters.ts';

const caller = { owner: 'key-1', maxPriority: 0, maxJobs: 3 };

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
          (i % 2 === 0 ? nodeA : nodeB).admit(caller, `job-${i}`),
        ),
      );
      const admitted = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
      assert.equal(admitted.length, 3);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') {
          assert.ok(outcome.reason instanceof ProblemError);
          assert.equal(outcome.reason.code, 'TOO_MANY_JOBS');
        }
      }
      assert.equal(await nodeB.count('key-1'), 3);

      // One admitted job finishes; the node that hears its final event frees the slot.
      const finished = `job-${admitted[0]}`;
      hubB.emit(finished, 'key-1', 'cancelled', { job_id: finished, status: 'cancelled' });
      for (let i = 0; i < 100 && (await nodeA.count('key-1')) !== 2; i++) {
        await new Promise((resolve) => setImmediate(resolve)); // the release is one round trip
      }
      assert.equal(await nodeA.count('key-1'), 2);
      const release = await nodeA.admit(caller, 'job-late');
      await assert.rejects(nodeB.admit(caller, 'job-later'), ProblemError);
      // A job refused after admission (e.g. no credits) gives its slot back.
      await release();
      assert.equal(await nodeB.count('key-1'), 2);
      nodeA.stop();
      nodeB.stop();
    });

    test('a caller without a limit takes no slot', async () => {
      const [counters] = open();
      const admission = new SlotAdmission(counters, new EventHub(), { leaseMs: 60_000 });
      for (let i = 0; i < 10; i++) await admission.admit({ ...caller, maxJobs: 0 }, `j-${i}`);
      assert.equal(await admission.count('key-1'), 0);
      admission.stop();
    });
  });
}
