// OpenAI's Images API on Pictor, driven by the official `openai` SDK over real HTTP, with the real
// ONNX engine in its worker process (fixture models).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI, {
  APIError,
  AuthenticationError,
  BadRequestError,
  RateLimitError,
  toFile,
} from 'openai';
import sharp from 'sharp';
import { LinkSigner } from '../../src/api/dialects/signed-links.ts';
import { JSON_METADATA_KEY, readPngText } from '../../src/engine/index.ts';
import {
  halves,
  maxDifference,
  rgbOf,
  startDialectServer,
  type DialectServer,
} from './dialect-server.ts';

const png = (b64: string | undefined): Buffer => {
  assert.ok(b64, 'an image is expected');
  const data = Buffer.from(b64, 'base64');
  assert.equal(data.subarray(1, 4).toString(), 'PNG');
  return data;
};

const metadata = (data: Buffer): Record<string, unknown> =>
  JSON.parse(readPngText(data)[JSON_METADATA_KEY] ?? '{}') as Record<string, unknown>;

describe('OpenAI Images API with the openai SDK (ONNX engine, real HTTP)', () => {
  let server: DialectServer;
  let client: OpenAI;
  let key: string;
  const clientWith = (apiKey: string): OpenAI =>
    new OpenAI({ apiKey, baseURL: `${server.base}/v1`, maxRetries: 0 });

  before(async () => {
    server = await startDialectServer();
    key = await server.createKey();
    client = clientWith(key);
  });
  after(() => server.stop());

  test('generate: b64_json images of the requested size, OpenAI model names map to the default model', async () => {
    const { data, response, request_id } = await client.images
      .generate({ model: 'dall-e-3', prompt: 'a red fox', n: 2, size: '64x64', quality: 'low' })
      .withResponse();
    assert.ok(request_id, 'x-request-id is set');
    assert.equal(response.headers.get('x-request-id'), request_id);
    assert.equal(data.data?.length, 2);
    assert.equal(data.size, '64x64');
    assert.equal(data.quality, 'low');
    assert.equal(data.output_format, 'png');
    assert.equal(data.background, 'opaque');
    assert.ok(Math.abs(data.created - Date.now() / 1000) < 60);
    const images = (data.data ?? []).map((image) => png(image.b64_json));
    const meta = images.map(metadata);
    assert.deepEqual(
      meta.map((m) => [m['model'], m['steps'], m['width'], m['height']]),
      [
        ['sd15', 10, 64, 64],
        ['sd15', 10, 64, 64],
      ],
      'dall-e-3 → default model; quality low → half the default 20 steps',
    );
    assert.equal(meta[1]?.['seed'], Number(meta[0]?.['seed']) + 1, 'seeds follow each other');
  });

  test('n above the per-job limit is split across jobs; output_format and compression apply', async () => {
    const data = await client.images.generate({
      model: 'sd15',
      prompt: 'many foxes',
      n: 5,
      size: '64x48',
      output_format: 'jpeg',
      output_compression: 50,
    });
    assert.equal(data.data?.length, 5);
    assert.equal(data.output_format, 'jpeg');
    assert.equal(data.size, '64x48');
    for (const image of data.data ?? []) {
      const bytes = Buffer.from(image.b64_json ?? '', 'base64');
      const info = await sharp(bytes).metadata();
      assert.deepEqual([info.format, info.width, info.height], ['jpeg', 64, 48]);
    }
  });

  test('generate with response_format url: a signed link that works without a key, and only as issued', async () => {
    const data = await client.images.generate({
      prompt: 'a fox in a link',
      size: '64x64',
      response_format: 'url',
    });
    const url = data.data?.[0]?.url;
    assert.ok(url);
    assert.equal(data.data?.[0]?.b64_json, undefined);
    const link = new URL(url);
    assert.match(link.pathname, /^\/images\/[\w-]+\/0$/);
    const res = await fetch(server.local(url));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    png(Buffer.from(await res.arrayBuffer()).toString('base64'));

    const tampered = new URL(server.local(url));
    tampered.pathname = tampered.pathname.replace(/\/0$/, '/1');
    const refused = await fetch(tampered);
    assert.equal(refused.status, 403);
    const body = (await refused.json()) as { error: { message: string; type: string } };
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /not valid/);

    const forged = new URL(server.local(url));
    forged.searchParams.set('expires', String(Number(forged.searchParams.get('expires')) + 3600));
    assert.equal((await fetch(forged)).status, 403, 'a later expiry breaks the signature');

    // A correctly signed link whose time is up.
    const secret = readFileSync(path.join(server.dataDir, 'link-secret'), 'utf8');
    const expired = new LinkSigner(Buffer.from(secret.trim(), 'hex'), -1000, server.base).url({
      owner: link.searchParams.get('owner') ?? '',
      jobId: link.pathname.split('/')[2] ?? '',
      index: 0,
    });
    const gone = await fetch(expired);
    assert.equal(gone.status, 403);
    assert.match(((await gone.json()) as { error: { message: string } }).error.message, /expired/);
  });

  test('edit with a mask: the transparent area is repainted, the opaque area kept exactly', async () => {
    const input = await halves([200, 40, 40], [40, 40, 200]);
    const alpha = new Uint8Array(64 * 64 * 4);
    for (let p = 0; p < 64 * 64; p++) alpha.set([0, 0, 0, p % 64 < 32 ? 0 : 255], p * 4);
    const mask = await sharp(alpha, { raw: { width: 64, height: 64, channels: 4 } })
      .png()
      .toBuffer();
    const data = await client.images.edit({
      image: await toFile(input, 'image.png', { type: 'image/png' }),
      mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
      prompt: 'a green field on the left',
    });
    const out = png(data.data?.[0]?.b64_json);
    assert.equal(data.size, '64x64', "size auto → the image's own size");
    assert.equal(metadata(out)['mode'], 'inpaint');
    const [a, b] = [await rgbOf(out), await rgbOf(input)];
    assert.equal(maxDifference(a, b, 32, 64), 0, 'kept half unchanged');
    assert.ok(maxDifference(a, b, 0, 32) > 10, 'masked half repainted');
  });

  test('edit without a mask is img2img; image[] arrays are read; a mask without alpha is refused', async () => {
    const input = await halves([10, 120, 10], [120, 10, 10]);
    const data = await client.images.edit({
      image: [await toFile(input, 'a.png', { type: 'image/png' })],
      prompt: 'autumn',
      size: '64x64',
      n: 2,
    });
    assert.equal(data.data?.length, 2);
    const meta = metadata(png(data.data?.[0]?.b64_json));
    assert.equal(meta['mode'], 'img2img');
    assert.equal(meta['strength'], 0.75);

    const opaque = await halves([0, 0, 0], [255, 255, 255]);
    await assert.rejects(
      client.images.edit({
        image: await toFile(input, 'a.png', { type: 'image/png' }),
        mask: await toFile(opaque, 'm.png', { type: 'image/png' }),
        prompt: 'x',
      }),
      (error: unknown) =>
        error instanceof BadRequestError && error.param === 'mask' && /alpha/.test(error.message),
    );
    await assert.rejects(
      client.images.edit({
        image: [
          await toFile(input, 'a.png', { type: 'image/png' }),
          await toFile(input, 'b.png', { type: 'image/png' }),
        ],
        prompt: 'x',
      }),
      (error: unknown) => error instanceof BadRequestError && error.param === 'image',
    );
  });

  test('variations: img2img from the image alone, prompted by the parameters it carries', async () => {
    const original = await client.images.generate({
      prompt: 'a lighthouse at dusk',
      size: '64x64',
    });
    const source = png(original.data?.[0]?.b64_json);
    const data = await client.images.createVariation({
      image: await toFile(source, 'source.png', { type: 'image/png' }),
      n: 2,
      size: '64x64' as '256x256',
      response_format: 'b64_json',
    });
    assert.equal(data.data?.length, 2);
    const meta = metadata(png(data.data?.[1]?.b64_json));
    assert.equal(meta['mode'], 'img2img');
    assert.equal(meta['prompt'], 'a lighthouse at dusk');
  });

  test('stream: partial images from step previews, then the completed image', async () => {
    const stream = await client.images.generate({
      prompt: 'a streaming fox',
      size: '64x64',
      stream: true,
      partial_images: 2,
      output_format: 'webp',
    });
    const events: { type: string; index?: number; b64: string; format: string }[] = [];
    for await (const event of stream) {
      events.push({
        type: event.type,
        ...(event.type === 'image_generation.partial_image'
          ? { index: event.partial_image_index }
          : {}),
        b64: event.b64_json,
        format: event.output_format,
      });
    }
    assert.deepEqual(
      events.map((e) => [e.type, e.index]),
      [
        ['image_generation.partial_image', 0],
        ['image_generation.partial_image', 1],
        ['image_generation.completed', undefined],
      ],
    );
    for (const event of events) {
      const info = await sharp(Buffer.from(event.b64, 'base64')).metadata();
      assert.deepEqual([info.format, info.width, info.height], ['webp', 64, 64]);
    }
  });

  test('a job that ends without a result mid-stream is an error event the SDK throws', async () => {
    const { data: stream, response } = await client.images
      .generate({
        prompt: 'a stream cut short',
        size: '256x256',
        stream: true,
        partial_images: 3,
        steps: 150,
      } as OpenAI.ImageGenerateParamsStreaming)
      .withResponse();
    assert.ok(response.headers.get('x-request-id'));
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const event of stream) {
          seen.push(event.type);
          if (seen.length === 1) {
            const jobs = await fetch(`${server.base}/v1/jobs?limit=1`, {
              headers: { authorization: `Bearer ${key}` },
            });
            const [job] = ((await jobs.json()) as { data: { job_id: string }[] }).data;
            await fetch(`${server.base}/v1/jobs/${job?.job_id ?? ''}`, {
              method: 'DELETE',
              headers: { authorization: `Bearer ${key}` },
            });
          }
        }
      })(),
      (error: unknown) => {
        assert.ok(error instanceof APIError, String(error));
        assert.equal(error.code, 'cancelled');
        assert.match(error.message, /was cancelled/);
        return true;
      },
    );
    assert.deepEqual(seen, ['image_generation.partial_image']);
  });

  test('stream an edit: image_edit events; partial_images 0 sends only the final image', async () => {
    const input = await halves([90, 90, 90], [10, 200, 10]);
    const stream = await client.images.edit({
      image: await toFile(input, 'a.png', { type: 'image/png' }),
      prompt: 'stream my edit',
      stream: true,
      partial_images: 0,
    });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    assert.deepEqual(types, ['image_edit.completed']);
  });

  test("bad parameters are OpenAI 400s naming the parameter, with the SDK's error classes", async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ prompt: 'x', size: '65x64' }, 'size', 'invalid_value'],
      [{ prompt: 'x', n: 11 }, 'n', 'integer_above_max_value'],
      [{ prompt: 'x', background: 'transparent' }, 'background', 'invalid_value'],
      [{ prompt: 'x', output_format: 'gif' }, 'output_format', 'invalid_value'],
      [{ prompt: 'x', bogus: true }, 'bogus', 'unknown_parameter'],
      [{ size: '64x64' }, 'prompt', 'missing_required_parameter'],
    ];
    for (const [body, param, code] of cases) {
      await assert.rejects(
        client.images.generate(body as unknown as OpenAI.ImageGenerateParamsNonStreaming),
        (error: unknown) => {
          assert.ok(error instanceof BadRequestError, `${JSON.stringify(body)}: ${String(error)}`);
          assert.equal(error.param, param);
          assert.equal(error.code, code);
          assert.equal(error.type, 'invalid_request_error');
          assert.ok(error.requestID, 'x-request-id on errors too');
          return true;
        },
      );
    }
  });

  test('an invalid key is an AuthenticationError in OpenAI shape', async () => {
    await assert.rejects(
      clientWith('sk_not_a_key').images.generate({ prompt: 'x', size: '64x64' }),
      (error: unknown) => {
        assert.ok(error instanceof AuthenticationError, String(error));
        assert.equal(error.code, 'invalid_api_key');
        assert.equal(error.type, 'invalid_request_error');
        assert.ok(error.requestID);
        return true;
      },
    );
  });

  test('an exhausted balance is 429 insufficient_quota, not retried, and charges nothing', async () => {
    const poor = await server.createKey({ credits: 2 });
    const retrying = new OpenAI({ apiKey: poor, baseURL: `${server.base}/v1`, maxRetries: 2 });
    const first = await retrying.images.generate({ prompt: 'one', size: '64x64', n: 2 });
    assert.equal(first.data?.length, 2);
    const started = Date.now();
    await assert.rejects(
      retrying.images.generate({ prompt: 'two', size: '64x64' }),
      (error: unknown) => {
        assert.ok(error instanceof RateLimitError, String(error));
        assert.equal(error.code, 'insufficient_quota');
        assert.equal(error.type, 'insufficient_quota');
        assert.equal(error.headers.get('x-should-retry'), 'false');
        assert.match(error.message, /costs 1 credit but the key has 0/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 500, 'the SDK did not back off and retry');
    const balance = await fetch(`${server.base}/v1/account/balance`, {
      headers: { authorization: `Bearer ${poor}` },
    });
    assert.equal(((await balance.json()) as { credits: number }).credits, 0);
  });

  test('a rate limit is a RateLimitError with retry-after', async () => {
    const limited = clientWith(await server.createKey({ rate_limit: 2 }));
    await limited.images.generate({ prompt: 'a', size: '64x64' });
    await limited.images.generate({ prompt: 'b', size: '64x64' });
    await assert.rejects(
      limited.images.generate({ prompt: 'c', size: '64x64' }),
      (error: unknown) => {
        assert.ok(error instanceof RateLimitError, String(error));
        assert.equal(error.code, 'rate_limit_exceeded');
        assert.ok(Number(error.headers.get('retry-after')) >= 1);
        assert.equal(error.headers.get('ratelimit-remaining'), '0');
        return true;
      },
    );
  });

  test('POST /v1/generate/{model} (seed servers) answers like /v1/generate', async () => {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
    const res = await fetch(`${server.base}/v1/generate/inpaint`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ prompt: 'a path model', steps: 2, seed: 5 }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string; seed: number; image: string };
    assert.equal(body.status, 'completed');
    assert.equal(body.seed, 5);
    assert.equal(metadata(png(body.image))['model'], 'inpaint');
    const clash = await fetch(`${server.base}/v1/generate/sd15`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ prompt: 'x', model: 'inpaint' }),
    });
    assert.equal(clash.status, 422);
    assert.equal(((await clash.json()) as { field: string }).field, 'model');
  });
});
