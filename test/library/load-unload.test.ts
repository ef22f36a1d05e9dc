// Loading and unloading models by hand: the admin routes answer once done, `GET /v1/models`
// shows the state, and an unload waits for the batch running on the model. The fake engine in a
// real worker process, with the LRU model cache and a budget that fits one model.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Pictor } from '../../src/cli/compose.ts';
import { jobEvent } from '../helpers/job-events.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

interface ModelRow {
  name: string;
  state: string;
  loaded: boolean;
}

describe('POST /v1/admin/models/{name}/load and /unload', () => {
  let pictor: Pictor;
  let base: string;

  before(async () => {
    const config = testConfig({
      // models/tiny is 8.6 MB on disk: room for one copy, not two.
      PICTOR_WORKERS__MEMORY_BUDGET_GB: String(12 / 1024),
      PICTOR_MODELS__DEFAULT: 'a',
      PICTOR_MODELS__LIST: JSON.stringify([
        { name: 'a', path: 'models/tiny' },
        { name: 'b', path: 'models/tiny' },
      ]),
    });
    // 100 ms steps: a job runs long enough to ask for an unload under it.
    pictor = await startPictor(config, 100);
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await pictor.stop();
  });

  const post = (url: string, body?: unknown): Promise<Response> =>
    fetch(`${base}${url}`, {
      method: 'POST',
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
  const states = async (): Promise<Record<string, string>> => {
    const { data } = (await (await fetch(`${base}/v1/models`)).json()) as { data: ModelRow[] };
    return Object.fromEntries(data.map((m) => [m.name, m.state]));
  };

  test('load answers once loaded (evicting the idle model for room); unload once unloaded', async () => {
    assert.deepEqual(await states(), { a: 'loaded', b: 'available' });
    const loaded = await post('/v1/admin/models/b/load');
    assert.equal(loaded.status, 200, await loaded.clone().text());
    assert.equal(((await loaded.json()) as ModelRow).state, 'loaded');
    assert.deepEqual(await states(), { a: 'available', b: 'loaded' });
    // Loading what is loaded changes nothing.
    assert.equal((await post('/v1/admin/models/b/load')).status, 200);
    const unloaded = await post('/v1/admin/models/b/unload');
    assert.equal(unloaded.status, 200);
    assert.equal(((await unloaded.json()) as ModelRow).state, 'available');
    assert.deepEqual(await states(), { a: 'available', b: 'available' });
  });

  test('an unload under a running job waits for it; the job completes', async () => {
    const accepted = await post('/v1/jobs', { model: 'a', prompt: 'a circle', steps: 5 });
    assert.equal(accepted.status, 202);
    const { job_id: id } = (await accepted.json()) as { job_id: string };
    await jobEvent(pictor.events, id, 'local', (e) => e.type === 'progress');
    assert.equal((await states())['a'], 'loaded');
    const unloaded = await post('/v1/admin/models/a/unload');
    assert.equal(unloaded.status, 200);
    // Answered only after the batch had run its last step in the worker…
    const steps = pictor.events
      .history(id)
      .flatMap((e) => (e.type === 'progress' ? [e.data.step] : []));
    assert.equal(steps.at(-1), 5, `steps seen when the unload answered: ${steps.join(',')}`);
    assert.equal((await states())['a'], 'available');
    // …and the job completes as if nothing happened.
    const final = await jobEvent(pictor.events, id, 'local', (e) =>
      ['completed', 'failed', 'cancelled'].includes(e.type),
    );
    assert.equal(final.type, 'completed');
  });

  test('unknown models are 404 problems', async () => {
    for (const action of ['load', 'unload']) {
      const res = await post(`/v1/admin/models/nope/${action}`);
      assert.equal(res.status, 404);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
    }
  });
});
