// models.pullOnRequest: a generation naming a Hugging Face model the library lacks pulls it
// first, the job waiting in `queued` with the download's progress in its events. Real HTTP, the
// ONNX engine, the fake hub on loopback.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pictor } from '../../src/cli/compose.ts';
import type { JobEvent } from '../../src/jobs/job-event.ts';
import { startAuthServer, type AuthServer } from '../accounts/helpers.ts';
import { FakeHub, repoFromFolder } from '../helpers/fake-hub.ts';
import { jobEvent } from '../helpers/job-events.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

const TINY = path.resolve(import.meta.dirname, '../../models/tiny');
const UNET = 'unet/model.onnx';

interface Accepted {
  job_id: string;
  status: string;
}

/** Reads a job's SSE stream to its final event. */
async function jobEvents(base: string, id: string): Promise<{ event: string; data: unknown }[]> {
  const text = await (await fetch(`${base}/v1/jobs/${id}/events`)).text();
  return text
    .split('\n\n')
    .map((chunk) => ({
      event: /^event: (.+)$/m.exec(chunk)?.[1] ?? '',
      data: /^data: (.+)$/m.exec(chunk)?.[1] ?? '',
    }))
    .filter((e) => e.event !== '')
    .map((e) => ({ event: e.event, data: JSON.parse(e.data) as unknown }));
}

describe('models.pullOnRequest with the ONNX engine', () => {
  const hub = new FakeHub();
  let pictor: Pictor;
  let base: string;
  let openGate: () => void = () => undefined;

  before(async () => {
    await hub.listen();
    const files = repoFromFolder(TINY);
    const unet = files.get(UNET);
    assert.ok(unet);
    // The UNet stops after 1 MB until the test has seen the jobs wait.
    unet.gate = { after: 1_000_000, open: new Promise((resolve) => (openGate = resolve)) };
    hub.repos.set('org/on-request', { sha: 'a'.repeat(40), files });
    hub.repos.set('org/too-small', { sha: 'b'.repeat(40), files: repoFromFolder(TINY) });
    const config = testConfig({
      PICTOR_WORKERS__ENGINE: 'onnx',
      PICTOR_WORKERS__INTRA_OP_THREADS: '1',
      PICTOR_MODELS__PULL_ON_REQUEST: 'true',
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: path.join(testConfig().dataDir, 'hf'),
    });
    pictor = await startPictor(config);
    await pictor.app.listen({ host: '127.0.0.1', port: 0 });
    const address = pictor.app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  after(async () => {
    openGate();
    await pictor.stop();
    await hub.close();
  });

  const submit = async (body: Record<string, unknown>): Promise<Accepted> => {
    const res = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a red circle on a blue background', steps: 4, ...body }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    return (await res.json()) as Accepted;
  };

  const midDownload = (event: JobEvent): boolean =>
    event.type === 'pulling' &&
    event.data.status === 'downloading' &&
    event.data.total !== undefined &&
    event.data.completed > 0 &&
    event.data.completed < event.data.total;

  test('two jobs naming a missing model wait in queued on one pull, see its progress, and complete', async () => {
    const first = await submit({ model: 'org/on-request', seed: 1 });
    const second = await submit({ model: 'hf:org/on-request', seed: 2 });
    assert.equal(first.status, 'queued');
    for (const job of [first, second]) {
      const seen = await jobEvent(pictor.events, job.job_id, 'local', midDownload);
      assert.ok(seen.type === 'pulling');
      const status = (await (await fetch(`${base}/v1/jobs/${job.job_id}`)).json()) as {
        status: string;
      };
      assert.equal(status.status, 'queued');
    }
    openGate();
    for (const [job, model] of [
      [first, 'org/on-request'],
      [second, 'hf:org/on-request'],
    ] as const) {
      const events = await jobEvents(base, job.job_id);
      const types = events.map((e) => e.event);
      assert.equal(types[0], 'queued');
      assert.ok(types.includes('pulling'));
      assert.ok(types.indexOf('started') > types.lastIndexOf('pulling'), types.join(','));
      assert.equal(types.at(-1), 'completed', JSON.stringify(events.at(-1)));
      const pulling = events.find((e) => e.event === 'pulling')?.data as { model: string };
      assert.equal(pulling.model, model);
      const image = await fetch(`${base}/v1/jobs/${job.job_id}/image?index=0`);
      assert.equal(image.status, 200);
      assert.equal(image.headers.get('content-type'), 'image/png');
    }
    // One download for both jobs, and the model now served under its library name.
    assert.equal(hub.downloads(UNET), 1);
    const job = (await (await fetch(`${base}/v1/jobs/${first.job_id}`)).json()) as {
      model: string;
    };
    assert.equal(job.model, 'on-request');
    const models = (await (await fetch(`${base}/v1/models`)).json()) as {
      data: { name: string }[];
    };
    assert.ok(models.data.some((m) => m.name === 'on-request'));
  });

  test('a pull that fails fails the job with its clear error', async () => {
    const job = await submit({ model: 'org/no-such-repo' });
    const final = await jobEvent(pictor.events, job.job_id, 'local', (e) => e.type === 'failed');
    assert.ok(final.type === 'failed');
    assert.match(final.data.error.message, /pulling 'org\/no-such-repo' for this job failed/);
    assert.match(final.data.error.message, /org\/no-such-repo/);
    assert.notEqual(final.data.error.code, 'INTERNAL');
  });

  test('a pulled model that refuses the request fails the job naming the field and its limit', async () => {
    // 1024 passes at accept (any model might take it); tiny's own limit is 512.
    const job = await submit({ model: 'org/too-small', width: 1024 });
    const final = await jobEvent(pictor.events, job.job_id, 'local', (e) => e.type === 'failed');
    assert.ok(final.type === 'failed');
    assert.equal(final.data.error.code, 'VALIDATION_FAILED');
    assert.match(final.data.error.message, /refuses this request: width must be .*512/);
    // The model stays pulled for requests it accepts.
    const ok = await submit({ model: 'too-small' });
    const done = await jobEvent(pictor.events, ok.job_id, 'local', (e) => e.type === 'completed');
    assert.equal(done.type, 'completed');
  });

  test('what is neither served nor a Hugging Face or CivitAI id is refused at once', async () => {
    const res = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'x', model: 'https://example.com/model.safetensors' }),
    });
    assert.equal(res.status, 404);
    assert.match(((await res.json()) as { detail: string }).detail, /not configured/);
  });
});

describe('models.pullOnRequest with credits', () => {
  const hub = new FakeHub();
  let server: AuthServer;

  before(async () => {
    await hub.listen();
    hub.repos.set('org/paid', { sha: 'c'.repeat(40), files: repoFromFolder(TINY) });
    server = await startAuthServer('sqlite', {
      PICTOR_MODELS__PULL_ON_REQUEST: 'true',
      PICTOR_CREDITS__COST_PER_IMAGE: '2',
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: path.join(testConfig().dataDir, 'hf'),
    });
  });
  after(async () => {
    await server.stop();
    await hub.close();
  });

  const balance = async (key: string): Promise<number> =>
    (
      (await (await server.request('GET', '/v1/account/balance', { key })).json()) as {
        credits: number;
      }
    ).credits;

  test('the default cost is charged at accept, kept when the job completes, refunded when the pull fails', async () => {
    const { key, id } = await server.createKey({ name: 'puller', credits: 10 });
    const submit = async (model: string): Promise<string> => {
      const res = await server.request('POST', '/v1/jobs', {
        key,
        body: { prompt: 'a red circle', steps: 2, model },
      });
      assert.equal(res.status, 202, await res.clone().text());
      const body = (await res.json()) as { job_id: string; credits_used: number };
      assert.equal(body.credits_used, 2);
      return body.job_id;
    };
    const failing = await submit('org/missing');
    const failed = await jobEvent(server.pictor.events, failing, id, (e) => e.type === 'failed');
    assert.ok(failed.type === 'failed');
    assert.match(failed.data.error.message, /org\/missing/);
    assert.equal(await balance(key), 10, 'the failed pull was refunded');
    const paid = await submit('org/paid');
    const done = await jobEvent(server.pictor.events, paid, id, (e) => e.type === 'completed');
    assert.equal(done.type, 'completed');
    assert.equal(await balance(key), 8);
  });
});
