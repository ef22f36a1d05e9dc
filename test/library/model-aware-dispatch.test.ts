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

  // Which job runs next stays the queue's choice: when the worker holding the head's model is
  // busy and the other is free, the free one takes it. So this checks batching, not placement.
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
