// Per-model overrides of what a model's files say — defaults, scheduler, prediction type — for a
// pulled model (its sidecar, edited by `pictor models set`) and a configured one (models.list),
// on ONNX folders: what GET /v1/models shows is what a job is resolved with, and a change to the
// sidecar reaches the running server without a restart. ONNX engine, real HTTP.
import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pictor } from '../../src/cli/compose.ts';
import { waitFor } from '../accounts/helpers.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

const TINY = path.resolve(import.meta.dirname, '../../models/tiny');

interface ModelRow {
  name: string;
  state: string;
  error: string | null;
  defaults: { steps: number; scheduler: string; guidance_scale: number };
}

describe('model overrides from the sidecar and from models.list', () => {
  let pictor: Pictor;
  let base: string;

  before(async () => {
    const config = testConfig({
      PICTOR_WORKERS__ENGINE: 'onnx',
      PICTOR_WORKERS__INTRA_OP_THREADS: '1',
      PICTOR_MODELS__LIST: JSON.stringify([
        { name: 'tiny', path: 'models/tiny' },
        { name: 'tuned', path: 'models/tiny', overrides: { steps: 5, guidanceScale: 2 } },
      ]),
    });
    cpSync(TINY, path.join(config.models.dir, 'mine'), { recursive: true });
    writeFileSync(
      path.join(config.models.dir, 'mine.pictor.json'),
      JSON.stringify({ overrides: { steps: 7, scheduler: 'euler_a', width: 'wide' } }),
    );
    pictor = await startPictor(config);
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await pictor.stop();
  });

  const row = async (name: string): Promise<ModelRow> =>
    (await (await fetch(`${base}/v1/models/${name}`)).json()) as ModelRow;

  /** Submits a job with no steps or scheduler and reads back what it was resolved with. */
  async function resolved(model: string): Promise<{ steps: number; scheduler: string }> {
    const res = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: 'a red circle' }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { job_id: id } = (await res.json()) as { job_id: string };
    const job = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as {
      parameters: { steps: number; scheduler: string };
    };
    return job.parameters;
  }

  test("a configured ONNX folder's overrides are its defaults, shown and used", async () => {
    const tuned = await row('tuned');
    assert.equal(tuned.defaults.steps, 5);
    assert.equal(tuned.defaults.guidance_scale, 2);
    assert.equal((await resolved('tuned')).steps, 5);
    assert.equal((await row('tiny')).defaults.steps, 20, 'the same folder without overrides');
  });

  test('a sidecar\'s overrides apply (a wrongly typed one is ignored); "models set" changes them live', async () => {
    const mine = await row('mine');
    assert.deepEqual([mine.defaults.steps, mine.defaults.scheduler], [7, 'euler_a']);
    const first = await resolved('mine');
    assert.deepEqual([first.steps, first.scheduler], [7, 'euler_a']);

    // What `pictor models set mine steps=3 scheduler=` does, through the server's own library.
    const changed = await pictor.library.configure('mine', ['steps=3', 'scheduler=']);
    assert.deepEqual(changed.overrides, { steps: 3 });
    const updated = await waitFor(
      async () => {
        const now = await row('mine');
        return now.defaults.steps === 3 ? now : undefined;
      },
      20_000,
      'the new default to reach the worker',
    );
    assert.equal(updated.defaults.scheduler, 'euler', "the files' own scheduler again");
    const second = await resolved('mine');
    assert.deepEqual([second.steps, second.scheduler], [3, 'euler']);
  });

  test('an override the engine cannot honour marks the model failed, naming it', async () => {
    await pictor.library.configure('mine', ['scheduler=flow_euler']);
    const failed = await waitFor(
      async () => {
        const { data } = (await (await fetch(`${base}/v1/models`)).json()) as { data: ModelRow[] };
        return data.find((m) => m.name === 'mine' && m.state === 'failed');
      },
      20_000,
      'GET /v1/models to show the refused override',
    );
    assert.match(failed.error ?? '', /scheduler override 'flow_euler' is not one of/);
    // A job for it is refused up front with the reason, nothing queued.
    const refused = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mine', prompt: 'x' }),
    });
    assert.equal(refused.status, 503);
    assert.match(await refused.text(), /flow_euler/);
  });
});
