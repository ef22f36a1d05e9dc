// The SDXL FastAPI server's API (seed 004) and the SD 3.5 API's health check (seed 002) over real
// HTTP with the real ONNX engine and the real `tiny` model, served under the seeds' model names.
// The READMEs' curl calls are replayed as written, with the base URL and a key changed.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { readPngText } from '../../src/engine/index.ts';
import { startDialectServer, type DialectServer } from './dialect-server.ts';

const tiny = path.resolve(import.meta.dirname, '../../models/tiny');

describe('SDXL FastAPI server API and the SD 3.5 health check', () => {
  let server: DialectServer;
  let key: string;

  before(async () => {
    server = await startDialectServer({
      PICTOR_MODELS__DEFAULT: 'sdxl-turbo',
      PICTOR_MODELS__LIST: JSON.stringify([
        { name: 'sdxl-turbo', path: tiny },
        { name: 'my_custom_model', path: tiny },
      ]),
    });
    key = await server.createKey();
  });
  after(() => server.stop());

  const generate = (model: string, body: string): Promise<Response> =>
    fetch(`${server.base}/generate/${model}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', authorization: `Bearer ${key}` },
      body,
    });

  const infotextOf = (response: { image_base64: string }): string =>
    readPngText(Buffer.from(response.image_base64, 'base64'))['parameters'] ?? '';

  test('a turbo model: the README request gets a base64 PNG, made in 1 step without guidance', async () => {
    const res = await generate('sdxl-turbo', '{"prompt": "A futuristic cat astronaut"}');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { image_base64: string; model_used: string };
    assert.equal(body.model_used, 'sdxl-turbo');
    const png = Buffer.from(body.image_base64, 'base64');
    assert.equal((await sharp(png).metadata()).format, 'png');
    assert.match(infotextOf(body), /Steps: 1, .*CFG scale: 0,/);
  });

  test('another model gets its own defaults; given values win; the negative prompt is used', async () => {
    const res = await generate('my_custom_model', '{"prompt": "Epic fantasy landscape"}');
    assert.equal(res.status, 200);
    assert.match(
      infotextOf((await res.json()) as { image_base64: string }),
      /Steps: 20, .*CFG scale: 4\.5,/,
    );
    const given = await generate(
      'sdxl-turbo',
      JSON.stringify({
        prompt: 'a red circle',
        negative_prompt: 'blue',
        guidance_scale: 2,
        num_inference_steps: 3,
      }),
    );
    const text = infotextOf((await given.json()) as { image_base64: string });
    assert.match(text, /Negative prompt: blue\n/);
    assert.match(text, /Steps: 3, .*CFG scale: 2,/);
  });

  test('errors in FastAPI shape: an unknown model is a 404 naming the models, a bad value a 422', async () => {
    const missing = await generate('sdxl', '{"prompt": "x"}');
    assert.equal(missing.status, 404);
    const detail = ((await missing.json()) as { detail: string }).detail;
    assert.match(
      detail,
      /Model 'sdxl' not found\. Supported models: .*sdxl-turbo.*my_custom_model/,
    );
    const bad = await generate('sdxl-turbo', '{"prompt": "x", "num_inference_steps": 10000}');
    assert.equal(bad.status, 422);
    const body = (await bad.json()) as { detail: { loc: string[]; msg: string }[] };
    // The field as the client named it, not Pictor's `steps`.
    assert.deepEqual(body.detail[0]?.loc, ['body', 'num_inference_steps']);
    const noPrompt = await generate('sdxl-turbo', '{}');
    assert.equal(noPrompt.status, 422);
    assert.deepEqual(((await noPrompt.json()) as { detail: { loc: string[] }[] }).detail[0]?.loc, [
      'body',
      'prompt',
    ]);
  });

  test('an unknown parameter is ignored with a Warning header', async () => {
    const res = await generate('sdxl-turbo', '{"prompt": "x", "lora_model": "none"}');
    assert.equal(res.status, 200);
    assert.equal(
      res.headers.get('warning'),
      '299 pictor "ignored unknown parameter(s): lora_model"',
    );
  });

  test('GET /health as the SD 3.5 API documents it, without a key, the checks beside', async () => {
    const res = await fetch(`${server.base}/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      status: string;
      model_loaded: boolean;
      checks: Record<string, { status: string }>;
    };
    assert.equal(body.status, 'healthy');
    assert.equal(body.model_loaded, true);
    assert.equal(body.checks['model']?.status, 'ok');
  });
});
