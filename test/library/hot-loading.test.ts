// The model library in a running server: a pulled model generates without a restart, models load
// and unload within the memory budget, a model that cannot load fails only its jobs, and a model
// in use cannot be removed from under its job. Real HTTP, the fake hub on loopback.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pictor } from '../../src/cli/compose.ts';
import type { PullEvent } from '../../src/library/pull-event.ts';
import { FakeHub, repoFromFolder } from '../helpers/fake-hub.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

const TINY = path.resolve(import.meta.dirname, '../../models/tiny');

interface ModelRow {
  name: string;
  state: string;
  loaded: boolean;
  error: string | null;
  format?: string;
  source?: string | null;
}

/** Polls `check` until it returns a value (state that arrives over IPC or a file watcher). */
async function until<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function client(pictor: Pictor): {
  base: string;
  post: (url: string, body: unknown) => Promise<Response>;
  models: () => Promise<ModelRow[]>;
} {
  const address = pictor.app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    base,
    post: (url, body) =>
      fetch(`${base}${url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    models: async () =>
      ((await (await fetch(`${base}/v1/models`)).json()) as { data: ModelRow[] }).data,
  };
}

/** Reads a pull's SSE stream to its end. */
async function pullEvents(base: string, id: string): Promise<PullEvent[]> {
  const text = await (await fetch(`${base}/v1/admin/models/pulls/${id}/events`)).text();
  return text
    .split('\n\n')
    .filter((chunk) => chunk.startsWith('data: '))
    .map((chunk) => JSON.parse(chunk.slice('data: '.length)) as PullEvent);
}

describe('hot loading with the ONNX engine and a memory budget that fits one model', () => {
  const hub = new FakeHub();
  let pictor: Pictor;
  let api: ReturnType<typeof client>;

  before(async () => {
    await hub.listen();
    hub.repos.set('org/tiny-copy', { sha: 'c'.repeat(40), files: repoFromFolder(TINY) });
    const config = testConfig({
      PICTOR_WORKERS__ENGINE: 'onnx',
      PICTOR_WORKERS__INTRA_OP_THREADS: '1',
      // tiny is 8.6 MB on disk: room for one copy, not two.
      PICTOR_WORKERS__MEMORY_BUDGET_GB: String(12 / 1024),
      PICTOR_QUEUE__MAX_BATCH: '1',
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: path.join(testConfig().dataDir, 'hf'),
    });
    // A checkpoint the engine cannot load (yet): registered by the folder scan all the same.
    mkdirSync(config.models.dir, { recursive: true });
    writeFileSync(path.join(config.models.dir, 'broken.safetensors'), Buffer.alloc(1024));
    pictor = await startPictor(config);
    await pictor.app.listen({ host: '127.0.0.1', port: 0 });
    api = client(pictor);
  });
  after(async () => {
    await pictor.stop();
    await hub.close();
  });

  const generate = async (model: string): Promise<Response> =>
    api.post('/v1/generate', {
      model,
      prompt: 'a red circle on a blue background',
      steps: 4,
      seed: 1,
    });

  test('a model pulled through the admin API generates without a restart; its progress streams as SSE', async () => {
    const accepted = await api.post('/v1/admin/models', {
      source: 'hf:org/tiny-copy',
      name: 'copy',
    });
    assert.equal(accepted.status, 202);
    const { pull_id: pullId } = (await accepted.json()) as { pull_id: string };
    const events = await pullEvents(api.base, pullId);
    assert.equal(events[0]?.status, 'pulling manifest');
    const unet = events.find(
      (e) => e.status === 'downloading' && e.file.endsWith('unet/model.onnx'),
    );
    assert.ok(unet?.status === 'downloading' && unet.total !== undefined && unet.total > 1_000_000);
    assert.deepEqual(events.at(-1), { status: 'success', model: 'copy' });
    const row = await until(
      async () => (await api.models()).find((m) => m.name === 'copy'),
      'the pulled model in GET /v1/models',
    );
    assert.equal(row.state, 'available');
    assert.equal(row.format, 'onnx');
    assert.equal(row.source, 'hf:org/tiny-copy@main');
    // The admin view of the library: what is on disk and whether Pictor may remove it.
    const library = (await (await fetch(`${api.base}/v1/admin/models`)).json()) as {
      data: { name: string; removable: boolean; source: string | null }[];
      pulls: unknown[];
    };
    const onDisk = Object.fromEntries(library.data.map((m) => [m.name, m]));
    assert.equal(onDisk['copy']?.removable, true);
    assert.equal(onDisk['copy']?.source, 'hf:org/tiny-copy@main');
    assert.equal(onDisk['tiny']?.removable, false);
    assert.deepEqual(library.pulls, []);
    const res = await generate('copy');
    assert.equal(res.status, 200, await res.clone().text());
  });

  test('alternating two models within a budget for one: both succeed, one is loaded at a time', async () => {
    for (const model of ['tiny', 'copy', 'tiny', 'copy']) {
      const res = await generate(model);
      assert.equal(res.status, 200, await res.clone().text());
      const loaded = (await api.models()).filter((m) => m.loaded).map((m) => m.name);
      assert.deepEqual(loaded, [model]);
      const states = Object.fromEntries((await api.models()).map((m) => [m.name, m.state]));
      assert.equal(states[model], 'loaded');
      assert.equal(states[model === 'tiny' ? 'copy' : 'tiny'], 'available');
    }
  });

  test('a model that cannot load fails its job clearly and the worker keeps serving the others', async () => {
    const res = await generate('broken');
    assert.equal(res.status, 500);
    const problem = (await res.json()) as { detail: string; error_code?: string };
    assert.match(problem.detail, /model 'broken' could not be loaded/);
    // The failure shows in the model list, with its reason, and later jobs are refused with it
    // up front (nothing is charged or queued for a model known not to load).
    const row = await until(
      async () => (await api.models()).find((m) => m.name === 'broken' && m.state === 'failed'),
      'the failed load in GET /v1/models',
    );
    assert.match(row.error ?? '', /^could not be loaded: /);
    const again = await generate('broken');
    assert.equal(again.status, 503);
    assert.match(((await again.json()) as { detail: string }).detail, /could not be loaded/);
    assert.equal((await generate('tiny')).status, 200);
  });

  test('a pull of an unknown repo reports the 404 over SSE and adds nothing', async () => {
    const accepted = await api.post('/v1/admin/models', { source: 'hf:org/missing' });
    const { pull_id: pullId } = (await accepted.json()) as { pull_id: string };
    const events = await pullEvents(api.base, pullId);
    const last = events.at(-1);
    assert.equal(last?.status, 'error');
    assert.ok(last?.status === 'error' && last.code === 'MODEL_SOURCE_NOT_FOUND');
    assert.ok(!(await api.models()).some((m) => m.name === 'missing'));
    const bad = await api.post('/v1/admin/models', { source: 'civitai:abc' });
    assert.equal(bad.status, 422);
  });
});

describe('removing a model while a job runs on it', () => {
  let pictor: Pictor;
  let api: ReturnType<typeof client>;
  let modelsDir: string;

  before(async () => {
    const config = testConfig();
    modelsDir = config.models.dir;
    cpSync(TINY, path.join(config.models.dir, 'spare'), { recursive: true });
    pictor = await startPictor(config, 50);
    await pictor.app.listen({ host: '127.0.0.1', port: 0 });
    api = client(pictor);
  });
  after(async () => {
    await pictor.stop();
  });

  test('is refused while the job runs, never breaks it, and works once it finished', async () => {
    assert.ok((await api.models()).some((m) => m.name === 'spare'));
    const submitted = await api.post('/v1/jobs', { model: 'spare', prompt: 'x', steps: 30 });
    assert.equal(submitted.status, 202);
    const { job_id: jobId } = (await submitted.json()) as { job_id: string };
    const refused = await fetch(`${api.base}/v1/admin/models/spare`, { method: 'DELETE' });
    assert.equal(refused.status, 409);
    assert.equal(((await refused.json()) as { code: string }).code, 'MODEL_IN_USE');
    const done = await until(async () => {
      const job = (await (await fetch(`${api.base}/v1/jobs/${jobId}`)).json()) as {
        status: string;
      };
      return ['completed', 'failed', 'cancelled', 'expired'].includes(job.status)
        ? job.status
        : undefined;
    }, 'the job to finish');
    assert.equal(done, 'completed');
    const removed = await fetch(`${api.base}/v1/admin/models/spare`, { method: 'DELETE' });
    assert.equal(removed.status, 200);
    assert.ok(existsSync(modelsDir) && !existsSync(path.join(modelsDir, 'spare')));
    // The workers hear of the removal over IPC: wait for them rather than race them.
    await until(
      async () => ((await api.models()).some((m) => m.name === 'spare') ? undefined : true),
      'the removed model to leave GET /v1/models',
    );
    const gone = await api.post('/v1/generate', { model: 'spare', prompt: 'x' });
    assert.equal(gone.status, 404);
    // A Hugging Face id that is not pulled yet gets the command that pulls it.
    const unpulled = await api.post('/v1/generate', { model: 'stabilityai/sd-turbo', prompt: 'x' });
    assert.equal(unpulled.status, 404);
    assert.match(
      ((await unpulled.json()) as { detail: string }).detail,
      /not in the library; pull it first: pictor models pull stabilityai\/sd-turbo/,
    );
    const configured = await fetch(`${api.base}/v1/admin/models/tiny`, { method: 'DELETE' });
    assert.equal(configured.status, 403);
  });

  test('a model copied into the models folder while the server runs is served without a restart', async () => {
    cpSync(TINY, path.join(modelsDir, 'dropped-in'), { recursive: true });
    await until(
      async () => ((await api.models()).some((m) => m.name === 'dropped-in') ? true : undefined),
      'the folder watcher to find the new model',
    );
    const res = await api.post('/v1/generate', { model: 'dropped-in', prompt: 'x', steps: 2 });
    assert.equal(res.status, 200);
  });
});
