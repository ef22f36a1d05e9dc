// keepAlive (like Ollama's keep_alive): an idle model unloads after its keepAliveSeconds and not
// before. The cache's countdown runs on node:test's mocked setTimeout (the clock is the test's),
// and the same rule is seen end to end in a real worker process.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Pictor } from '../../src/cli/compose.ts';
import { ModelCache, type WorkerModel } from '../../src/workers/engines/model-cache.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

const model = (name: string, keepAliveSeconds: number): WorkerModel => ({
  name,
  path: name,
  sizeBytes: 10,
  family: undefined,
  keepAliveSeconds,
});

/** Lets the cache's unload (a promise chain) settle; setImmediate is not mocked. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('an idle model unloads when its keepAlive is up, not a millisecond before; each use starts it again', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const events: string[] = [];
  const cache = new ModelCache<string>({
    budgetBytes: 100,
    load: (m) => Promise.resolve(m.name),
    unload: (name) => {
      events.push(`unload ${name}`);
      return Promise.resolve();
    },
    onChange: () => undefined,
  });
  const a = model('a', 5);
  await cache.acquire(a);
  // In use: the countdown has not started, however long the batch runs.
  t.mock.timers.tick(60_000);
  assert.ok(cache.isLoaded('a'));
  cache.release('a');
  t.mock.timers.tick(4_999);
  await settle();
  assert.ok(cache.isLoaded('a'), 'still loaded 1 ms before its keepAlive');
  // Used again just before it was due: the countdown starts over from this release.
  await cache.acquire(a);
  cache.release('a');
  t.mock.timers.tick(4_999);
  await settle();
  assert.ok(cache.isLoaded('a'));
  t.mock.timers.tick(1);
  await settle();
  assert.ok(!cache.isLoaded('a'), 'unloaded once 5 s idle');
  assert.deepEqual(events, ['unload a']);
});

test('keepAlive -1 keeps an idle model while memory allows; a manual unload cancels the countdown', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const cache = new ModelCache<string>({
    budgetBytes: 100,
    load: (m) => Promise.resolve(m.name),
    unload: () => Promise.resolve(),
    onChange: () => undefined,
  });
  await cache.acquire(model('forever', -1));
  cache.release('forever');
  await cache.acquire(model('brief', 2));
  cache.release('brief');
  await cache.unload('brief');
  assert.ok(!cache.isLoaded('brief'));
  await cache.acquire(model('brief', 2)); // loaded again and in use when the old timer was due
  t.mock.timers.tick(10 * 24 * 3600 * 1000);
  await settle();
  assert.ok(cache.isLoaded('forever'));
  assert.ok(cache.isLoaded('brief'), 'a cancelled countdown does not unload a model in use');
});

describe('keepAliveSeconds of a model in a real worker', () => {
  let pictor: Pictor;
  let base: string;

  before(async () => {
    pictor = await startPictor(
      testConfig({
        PICTOR_MODELS__DEFAULT: 'brief',
        PICTOR_MODELS__LIST: JSON.stringify([
          { name: 'brief', path: 'models/tiny', keepAliveSeconds: 2 },
          { name: 'kept', path: 'models/tiny' },
        ]),
      }),
    );
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await pictor.stop();
  });

  const loaded = (name: string): boolean =>
    pictor.workers.models().some((m) => m.name === name && m.loaded);

  /** Resolves once the worker reports `name` unloaded. */
  const unloaded = (name: string): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (loaded(name)) return;
        stop();
        resolve();
      };
      const stop = pictor.workers.onModels(check);
      check();
    });

  test('after a job the model stays loaded while idle for its keepAlive, then unloads; the other stays', async () => {
    await unloaded('brief'); // preloaded at start, and idle since
    for (const name of ['brief', 'kept']) {
      const res = await fetch(`${base}/v1/generate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: name, prompt: 'a circle', steps: 2 }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.ok(loaded(name), `${name} is loaded right after its job`);
    }
    await unloaded('brief');
    assert.ok(loaded('kept'), 'a model without keepAlive stays loaded');
    const listed = (await (await fetch(`${base}/v1/models`)).json()) as {
      data: { name: string; state: string }[];
    };
    assert.equal(listed.data.find((m) => m.name === 'brief')?.state, 'available');
    assert.equal(listed.data.find((m) => m.name === 'kept')?.state, 'loaded');
  });
});

describe('models.preload and models.keepAliveSeconds with the ONNX engine', () => {
  let pictor: Pictor;

  before(async () => {
    pictor = await startPictor(
      testConfig({
        PICTOR_WORKERS__ENGINE: 'onnx',
        PICTOR_WORKERS__INTRA_OP_THREADS: '1',
        PICTOR_MODELS__DEFAULT: 'lazy',
        PICTOR_MODELS__LIST: JSON.stringify([
          { name: 'lazy', path: 'models/tiny' },
          { name: 'early', path: 'models/tiny' },
          { name: 'early-kept', path: 'models/tiny', keepAliveSeconds: -1 },
        ]),
        // 'early' last: its keepAlive starts when its preload ends, just before the worker's ready.
        PICTOR_MODELS__PRELOAD: JSON.stringify(['early-kept', 'early']),
        // The machine-wide keepAlive, for models without their own.
        PICTOR_MODELS__KEEP_ALIVE_SECONDS: '5',
      }),
    );
  });
  after(async () => {
    await pictor.stop();
  });

  const loaded = (name: string): boolean =>
    pictor.workers.models().some((m) => m.name === name && m.loaded);

  test(
    'preloaded models are loaded when the worker is ready, others only on use; the global keepAlive then unloads an idle one',
    { timeout: 60_000 },
    async () => {
      // startPictor waited for the workers' ready, which comes after their preloads.
      assert.ok(loaded('early'), 'a preloaded model is loaded before any job');
      assert.ok(loaded('early-kept'));
      assert.ok(!loaded('lazy'), 'a model not in models.preload waits for its first job');
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (loaded('early')) return;
          stop();
          resolve();
        };
        const stop = pictor.workers.onModels(check);
        check();
      });
      assert.ok(
        loaded('early-kept'),
        'its own keepAliveSeconds -1 wins over models.keepAliveSeconds',
      );
    },
  );
});
