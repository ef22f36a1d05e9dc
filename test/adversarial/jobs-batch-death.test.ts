import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPictor, testConfig } from '../helpers/pictor.ts';
import { jobEvent } from '../helpers/job-events.ts';

// Issue 16 item 18: a worker dying mid-batch used up an attempt of every job in the batch, so a
// second death (caused by one of them) failed them all.

const caller = { owner: 'local', maxPriority: 0 };

test('a worker killed mid-batch: its batch-mates run again alone and complete, the attempt not counted', async () => {
  const pictor = await startPictor(testConfig({ PICTOR_QUEUE__MAX_BATCH: '4' }), 40);
  try {
    // The first job takes the only worker; the next two wait and then run as one batch.
    const first = await pictor.service.submit(caller, { prompt: 'a red circle', steps: 10 });
    const mates = [
      await pictor.service.submit(caller, { prompt: 'a blue square', steps: 20 }),
      await pictor.service.submit(caller, { prompt: 'a green star', steps: 20 }),
    ];
    const [a, b] = mates.map((m) => m.job);
    assert.ok(a && b);
    await jobEvent(
      pictor.events,
      a.id,
      caller.owner,
      (e) => e.type === 'progress' && e.data.step >= 2,
    );
    const started = pictor.events.history(a.id).find((e) => e.type === 'started');
    assert.ok(started?.type === 'started' && started.data.batch_size === 2, 'ran as a batch');
    const [pid] = pictor.workers.busyPids();
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGKILL');
    for (const job of [a, b]) {
      const final = await pictor.service.waitForFinal(caller, job);
      assert.equal(final.status, 'completed');
      assert.equal(final.attempts, 1, 'the batch death did not count as an attempt');
      const again = pictor.events.history(job.id).filter((e) => e.type === 'started');
      assert.ok(again.at(-1)?.type === 'started' && again.at(-1)?.data.batch_size === 1);
    }
    assert.equal((await pictor.service.waitForFinal(caller, first.job)).status, 'completed');
  } finally {
    await pictor.stop();
  }
});
