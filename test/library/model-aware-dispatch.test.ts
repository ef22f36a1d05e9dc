// Embedded-mode dispatch prefers a worker that already holds the job's model: two models on two
// workers, each worker's memory budget fitting one, settle one per worker instead of evicting
// each other on every job. The fake engine runs in real child processes with the ONNX engine's
// LRU model cache.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Pictor } from '../../src/cli/compose.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

describe('two models on two workers with a memory budget for one model each', () => {
  let pictor: Pictor;
  let base: string;

  before(async () => {
    pictor = await startPictor(
      testConfig({
        PICTOR_WORKERS__DEVICES: '["cpu","cpu"]',
        // models/tiny is 8.6 MB on disk: room for one copy per worker, not two.
        PICTOR_WORKERS__MEMORY_BUDGET_GB: String(12 / 1024),
        PICTOR_MODELS__DEFAULT: 'a',
        PICTOR_MODELS__LIST: JSON.stringify([
          { name: 'a', path: 'models/tiny' },
          { name: 'b', path: 'models/tiny' },
        ]),
      }),
    );
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
    // startPictor waits for the first worker; the second says it is idle when ready.
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (pictor.workers.liveCount() === 2) resolve();
      };
      pictor.workers.onIdle(check);
      check();
    });
  });
  after(async () => {
    await pictor.stop();
  });

  const generate = async (model: string, seed: number): Promise<void> => {
    const res = await fetch(`${base}/v1/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: 'a circle', steps: 2, seed }),
    });
    assert.equal(res.status, 200, await res.clone().text());
  };

  /** Which models each worker holds, as `pid:models` strings in pid order. */
  const holdings = (): string[] =>
    [...pictor.workers.loadedByPid()]
      .sort(([p], [q]) => p - q)
      .map(([pid, models]) => `${pid}:${models.join(',')}`);

  test('alternating requests: each model settles on its own worker and stays there', async () => {
    const seen: string[][] = [];
    for (const [i, model] of ['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b'].entries()) {
      await generate(model, i);
      seen.push(holdings());
    }
    // Once both models ran, every worker holds one model, a different one each…
    const settled = seen[1] ?? [];
    assert.deepEqual(settled.map((h) => h.split(':')[1]).sort(), ['a', 'b'], JSON.stringify(seen));
    // …and no later job loads anything anywhere.
    for (const later of seen.slice(2)) assert.deepEqual(later, settled, JSON.stringify(seen));
  });

  /** Submits a job (202) and returns its id. */
  const submit = async (model: string, steps: number, seed: number): Promise<string> => {
    const res = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: 'a circle', steps, seed }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    return ((await res.json()) as { job_id: string }).job_id;
  };

  /** Resolves when the job's event of `type` has been published. */
  const eventOf = (jobId: string, type: 'started' | 'completed'): Promise<void> =>
    new Promise((resolve) => {
      if (pictor.events.history(jobId).some((e) => e.type === type)) return resolve();
      const stop = pictor.events.onAll((event) => {
        if (event.type !== type || event.data.job_id !== jobId) return;
        stop();
        resolve();
      });
    });

  /** Every holdings change while `body` runs (the workers report each load and unload). */
  const changesDuring = async (body: () => Promise<void>): Promise<string[][]> => {
    const seen: string[][] = [];
    const stop = pictor.workers.onModels(() => seen.push(holdings()));
    try {
      await body();
    } finally {
      stop();
    }
    return seen.filter((h) => JSON.stringify(h) !== JSON.stringify(seen[0] ?? h));
  };

  /** Runs a, then b, so each worker holds one of them; returns that settled state. */
  const settle = async (): Promise<string[]> => {
    await generate('a', 1);
    await generate('b', 2);
    const settled = holdings();
    assert.deepEqual(settled.map((h) => h.split(':')[1]).sort(), ['a', 'b']);
    return settled;
  };

  test('a job whose model a busy worker holds waits for it; the idle worker keeps its own model', async () => {
    const settled = await settle();
    const changes = await changesDuring(async () => {
      const long = await submit('a', 50, 10); // about a second on the fake engine
      await eventOf(long, 'started');
      // The worker holding a is busy and the one holding b is idle: a2 waits, b1 runs now.
      const a2 = await submit('a', 2, 11);
      const b1 = await submit('b', 2, 12);
      await Promise.all([long, a2, b1].map((id) => eventOf(id, 'completed')));
    });
    assert.deepEqual(changes, [], `no load or unload anywhere (settled ${settled.join(' ')})`);
    assert.deepEqual(holdings(), settled);
  });

  test('a worker that frees up takes the oldest job of its own model, not the head of the queue', async () => {
    const settled = await settle();
    const changes = await changesDuring(async () => {
      const shortA = await submit('a', 10, 20);
      const longB = await submit('b', 50, 21);
      await Promise.all([eventOf(shortA, 'started'), eventOf(longB, 'started')]);
      // Both busy; b2 is older than a2, and the worker holding a frees up first.
      const b2 = await submit('b', 2, 22);
      const a2 = await submit('a', 2, 23);
      await Promise.all([shortA, longB, b2, a2].map((id) => eventOf(id, 'completed')));
    });
    assert.deepEqual(changes, [], `no load or unload anywhere (settled ${settled.join(' ')})`);
    assert.deepEqual(holdings(), settled);
  });

  // Placement leaves no job behind: with both models queued together, compatible jobs batch.
  test('compatible jobs still share a batch with two models on two workers', async () => {
    const started: number[] = [];
    const stop = pictor.events.onAll((event) => {
      if (event.type === 'started') started.push(event.data.batch_size);
    });
    try {
      await Promise.all(
        Array.from({ length: 6 }, (_, i) => generate(i % 2 === 0 ? 'a' : 'b', 100 + i)),
      );
      assert.ok(
        started.some((size) => size > 1),
        `batch sizes ${started.join(',')}: no batch shared`,
      );
    } finally {
      stop();
    }
  });
});
