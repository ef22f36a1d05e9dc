// models.pullOnRequest through the AUTOMATIC1111 and OpenAI dialects: a checkpoint or model
// naming a Hugging Face repo the library lacks is pulled first, as on /v1; A1111's progress route
// shows the download. Real HTTP, the ONNX engine, the fake hub on loopback.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pictor } from '../../src/cli/compose.ts';
import type { JobEvent } from '../../src/jobs/job-event.ts';
import { FakeHub, repoFromFolder } from '../helpers/fake-hub.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

const TINY = path.resolve(import.meta.dirname, '../../models/tiny');
const UNET = 'unet/model.onnx';

describe('models.pullOnRequest in the A1111 and OpenAI dialects', () => {
  const hub = new FakeHub();
  let pictor: Pictor;
  let base: string;
  const gates = new Map<string, () => void>();

  /** A repo whose UNet stalls after 1 MB until `gates.get(repo)()` is called. */
  const gatedRepo = (repo: string, sha: string): void => {
    const files = repoFromFolder(TINY);
    const unet = files.get(UNET);
    assert.ok(unet);
    unet.gate = {
      after: 1_000_000,
      open: new Promise((resolve) => gates.set(repo, () => resolve())),
    };
    hub.repos.set(repo, { sha, files });
  };

  before(async () => {
    await hub.listen();
    gatedRepo('org/a1111-pull', 'a'.repeat(40));
    gatedRepo('org/openai-pull', 'b'.repeat(40));
    const config = testConfig({
      PICTOR_WORKERS__ENGINE: 'onnx',
      PICTOR_WORKERS__INTRA_OP_THREADS: '1',
      PICTOR_MODELS__PULL_ON_REQUEST: 'true',
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: path.join(testConfig().dataDir, 'hf'),
    });
    pictor = await startPictor(config);
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    for (const open of gates.values()) open();
    await pictor.stop();
    await hub.close();
  });

  /** Resolves with the first `pulling` event of `model` mid-download (some bytes, not all). */
  const midDownload = (model: string): Promise<JobEvent> =>
    new Promise((resolve) => {
      const stop = pictor.events.onAll((event) => {
        if (
          event.type === 'pulling' &&
          event.data.model === model &&
          event.data.status === 'downloading' &&
          event.data.total !== undefined &&
          event.data.completed > 0 &&
          event.data.completed < event.data.total
        ) {
          stop();
          resolve(event);
        }
      });
    });

  const post = (route: string, body: unknown): Promise<Response> =>
    fetch(`${base}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  test('A1111: a checkpoint to pull waits, /sdapi/v1/progress shows the download, then the image comes', async () => {
    const seen = midDownload('org/a1111-pull');
    const response = post('/sdapi/v1/txt2img', {
      prompt: 'a red circle on a blue background',
      steps: 4,
      width: 64,
      height: 64,
      seed: 3,
      override_settings: { sd_model_checkpoint: 'org/a1111-pull' },
    });
    await seen;
    const progress = (await (await fetch(`${base}/sdapi/v1/progress`)).json()) as {
      textinfo: string | null;
      progress: number;
      state: { job: string };
    };
    // The latest status of the pull: files download and verify in parallel.
    assert.match(
      progress.textinfo ?? '',
      /^Pulling model org\/a1111-pull: (downloading|verifying) \d+% \([\d.]+ MB of [\d.]+ MB\)$/,
    );
    assert.notEqual(progress.state.job, '');
    gates.get('org/a1111-pull')?.();
    const res = await response;
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { images: string[]; info: string };
    assert.equal(body.images.length, 1);
    // The info names the pulled model's own default sampler (tiny: euler), as it ran.
    const info = JSON.parse(body.info) as { sampler_name: string; sd_model_name: string };
    assert.equal(info.sampler_name, 'Euler');
    assert.equal(
      Buffer.from(body.images[0] ?? '', 'base64')
        .subarray(1, 4)
        .toString(),
      'PNG',
    );
    assert.equal(hub.downloads(UNET), 1);
  });

  test('OpenAI: a Hugging Face model name is pulled first; other names still mean the default model', async () => {
    const seen = midDownload('org/openai-pull');
    const response = post('/v1/images/generations', {
      model: 'org/openai-pull',
      prompt: 'a yellow triangle',
      size: '64x64',
      steps: 4,
    });
    await seen;
    gates.get('org/openai-pull')?.();
    const res = await response;
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { data: { b64_json: string }[]; size: string };
    assert.equal(body.data.length, 1);
    assert.equal(body.size, '64x64');
    const served = (await (await fetch(`${base}/v1/models`)).json()) as {
      data: { name: string }[];
    };
    assert.ok(served.data.some((m) => m.name === 'openai-pull'));
    // `dall-e-3` is no Hugging Face id: the default model answers, nothing is pulled.
    const dalle = await post('/v1/images/generations', {
      model: 'dall-e-3',
      prompt: 'a yellow triangle',
      size: '64x64',
      steps: 2,
    });
    assert.equal(dalle.status, 200, await dalle.clone().text());
  });

  test('a pull that fails answers in each dialect’s own error shape', async () => {
    const a1111 = await post('/sdapi/v1/txt2img', {
      prompt: 'x',
      steps: 2,
      width: 64,
      height: 64,
      override_settings: { sd_model_checkpoint: 'org/no-such-repo' },
    });
    const a1111Body = (await a1111.json()) as { error: string; detail: string };
    assert.equal(a1111.status, 404, JSON.stringify(a1111Body));
    assert.match(a1111Body.detail, /pulling 'org\/no-such-repo' for this job failed/);
    const openai = await post('/v1/images/generations', {
      model: 'org/also-missing',
      prompt: 'x',
      size: '64x64',
    });
    const openaiBody = (await openai.json()) as { error: { code: string; message: string } };
    assert.equal(openai.status, 404, JSON.stringify(openaiBody));
    assert.equal(openaiBody.error.code, 'model_not_found');
    assert.match(openaiBody.error.message, /org\/also-missing/);
  });
});
