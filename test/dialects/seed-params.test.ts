// Every seed route that takes parameters, as those servers treat them: an unknown parameter is
// ignored and named in a `Warning` header (pydantic and flask drop extra fields), and a known one
// out of range is a 4xx in that server's error shape, naming the field as the client sent it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { halves, startDialectServer, type DialectServer } from './dialect-server.ts';

interface Case {
  readonly route: string;
  /** The request with an unknown parameter `bogus` added. */
  readonly unknown: () => Promise<Response>;
  /** The request with a known parameter out of range. */
  readonly outOfRange: () => Promise<Response>;
  readonly status: number;
  /** The refusal's body, in the server's shape, naming the field as sent. */
  readonly refusal: RegExp;
}

describe('seed routes: unknown parameters warned about, out-of-range ones refused in shape', () => {
  let server: DialectServer;
  let key: string;
  let blob: string;
  let taskId: string;
  const headers = () => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
  const get = (path: string, query: Record<string, string>) =>
    fetch(`${server.base}${path}?${new URLSearchParams(query).toString()}`, { headers: headers() });
  const post = (path: string, body: object) =>
    fetch(server.base + path, { method: 'POST', headers: headers(), body: JSON.stringify(body) });
  const common = { prompt: 'a corgi', model: 'sd15', steps: '2' };
  const pydantic = (loc: string, field: string) =>
    new RegExp(`^\\{"detail":\\[\\{"loc":\\["${loc}","${field}"\\],"msg":"[^"]+","type":"`);
  const flask = (field: string) =>
    new RegExp(
      `^\\{"errors":\\{"${field}":"[^"]+"\\},"message":"Input payload validation failed"\\}$`,
    );

  before(async () => {
    server = await startDialectServer();
    key = await server.createKey();
    const form = new FormData();
    const png = await halves([255, 0, 0], [0, 0, 255]);
    form.append('blob_data', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'a.png');
    const uploaded = await fetch(`${server.base}/blob`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: form,
    });
    blob = (await uploaded.json()) as string;
    const queued = await post('/api/generate', { prompt: 'x', steps: 2, width: 64, height: 64 });
    taskId = ((await queued.json()) as { task_id: string }).task_id;
  });
  after(() => server.stop());

  const cases = (): Case[] => [
    {
      route: 'irgolic GET /txt2img',
      unknown: () => get('/txt2img', { ...common, bogus: '1' }),
      outOfRange: () => get('/txt2img', { ...common, width: '100000' }),
      status: 422,
      refusal: pydantic('query', 'width'),
    },
    {
      route: 'irgolic GET /img2img',
      unknown: () => get('/img2img', { ...common, initial_image: blob, bogus: '1' }),
      outOfRange: () => get('/img2img', { ...common, initial_image: blob, strength: '5' }),
      status: 422,
      refusal: pydantic('query', 'strength'),
    },
    {
      route: 'irgolic GET /inpaint',
      unknown: () => get('/inpaint', { ...common, initial_image: blob, mask: blob, bogus: '1' }),
      outOfRange: () =>
        get('/inpaint', { ...common, initial_image: blob, mask: blob, guidance: '-5' }),
      status: 422,
      refusal: pydantic('query', 'guidance'),
    },
    {
      route: 'irgolic POST /task',
      unknown: () => post('/task', { prompt: 'x', steps: 2, bogus: 1 }),
      outOfRange: () => post('/task', { prompt: 'x', steps: 2, guidance: -5 }),
      status: 422,
      refusal: pydantic('body', 'guidance'),
    },
    {
      route: 'mflux POST /api/generate',
      unknown: () => post('/api/generate', { prompt: 'x', steps: 2, bogus: 1 }),
      outOfRange: () => post('/api/generate', { prompt: 'x', width: -5 }),
      status: 400,
      refusal: flask('width'),
    },
    {
      route: 'mflux GET /api/status',
      unknown: () => get('/api/status', { task_id: taskId, bogus: '1' }),
      outOfRange: () => get('/api/status', { task_id: 'x'.repeat(101) }),
      status: 400,
      refusal: flask('task_id'),
    },
    {
      route: 'SDXL FastAPI POST /generate/{model_name}',
      unknown: () => post('/generate/sd15', { prompt: 'x', num_inference_steps: 2, bogus: 1 }),
      outOfRange: () => post('/generate/sd15', { prompt: 'x', num_inference_steps: 100000 }),
      status: 422,
      refusal: pydantic('body', 'num_inference_steps'),
    },
  ];

  test('each route, both ways', async () => {
    for (const c of cases()) {
      const accepted = await c.unknown();
      assert.equal(accepted.status, 200, `${c.route}: ${await accepted.clone().text()}`);
      assert.match(accepted.headers.get('warning') ?? '', /^299 pictor ".*\bbogus\b.*"$/, c.route);
      await accepted.arrayBuffer();
      const refused = await c.outOfRange();
      assert.equal(refused.status, c.status, `${c.route}: ${await refused.clone().text()}`);
      assert.match(await refused.text(), c.refusal, c.route);
    }
  });
});
