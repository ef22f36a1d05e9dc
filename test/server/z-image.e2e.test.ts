// A tiny random-weight Z-Image diffusers folder (Qwen3, single-stream DiT, FLUX VAE) served by the real server: the worker's
// ONNX engine describes it from its headers and configs (family, flow sampler, Turbo defaults) and generates
// through the model cache, deterministic per seed (real ONNX engine, real HTTP).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { Pictor } from '../../src/cli/compose.ts';
import { CHECKPOINTS } from '../helpers/checkpoint-graphs.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

describe('a Z-Image model through the server', () => {
  let pictor: Pictor;
  let base: string;

  before(async () => {
    pictor = await startPictor(
      testConfig({
        PICTOR_WORKERS__ENGINE: 'onnx',
        PICTOR_WORKERS__INTRA_OP_THREADS: '1',
        PICTOR_MODELS__DEFAULT: 'zimage',
        PICTOR_MODELS__LIST: JSON.stringify([
          { name: 'zimage', path: path.join(CHECKPOINTS, 'tiny-zimage') },
        ]),
      }),
    );
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await pictor.stop();
  });

  test('the model is described as Z-Image before its first load: flow_euler, Turbo defaults', async () => {
    const model = (await (await fetch(`${base}/v1/models/zimage`)).json()) as {
      family: string;
      default_scheduler?: string;
      defaultScheduler?: string;
      schedulers: string[];
      defaults: Record<string, number>;
    };
    assert.equal(model.family, 'zimage');
    assert.deepEqual(model.schedulers, ['flow_euler']);
    assert.equal(model.defaults['steps'], 8);
    assert.equal(model.defaults['guidance_scale'], 0);
  });

  async function generate(seed: number): Promise<{ raw: Buffer; width: number; height: number }> {
    const response = await fetch(`${base}/v1/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a red circle', width: 48, height: 32, steps: 3, seed }),
    });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    const body = JSON.parse(text) as { status: string; image: string };
    assert.equal(body.status, 'completed');
    const { data, info } = await sharp(Buffer.from(body.image, 'base64'))
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { raw: data, width: info.width, height: info.height };
  }

  test('generates the asked size, the same image for the same seed and another for another', async () => {
    const first = await generate(11);
    assert.deepEqual([first.width, first.height], [48, 32]);
    assert.ok(first.raw.equals((await generate(11)).raw));
    assert.ok(!first.raw.equals((await generate(12)).raw));
  });

  test('a Stable Diffusion sampler is refused naming the one that suits', async () => {
    const response = await fetch(`${base}/v1/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a red circle', scheduler: 'euler_a', width: 32, height: 32 }),
    });
    assert.equal(response.status, 422);
    assert.match(await response.text(), /flow_euler/);
  });
});
