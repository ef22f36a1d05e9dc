import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, startAuthServer, type AuthServer } from '../accounts/helpers.ts';

type Json = Record<string, unknown>;

let s: AuthServer;
let key: string;
let keyId: string;
before(async () => {
  s = await startAuthServer('sqlite', { PICTOR_QUEUE__MAX_PROMPT_LENGTH: '50' });
  ({ key, id: keyId } = await s.createKey({ name: 'answers', credits: 100, rate_limit: 0 }));
});
after(async () => {
  await s.stop();
});

const admin = { key: ADMIN_KEY };

test('an expiry beyond year 9999 is refused before the key is stored; listing keys keeps working', async () => {
  const before = ((await (await s.request('GET', '/v1/admin/keys', admin)).json()) as Json[])
    .length;
  for (const expires_at of ['999999999d', '99999999999d', '+275760-09-13T00:00:00Z']) {
    const res = await s.request('POST', '/v1/admin/keys', {
      ...admin,
      body: { name: 'far', expires_at },
    });
    assert.equal(res.status, 422, `${expires_at}: ${res.status}`);
    assert.equal(((await res.json()) as Json)['field'], 'expires_at');
  }
  const patched = await s.request('PUT', `/v1/admin/keys/${keyId}`, {
    ...admin,
    body: { expires_at: '999999999d' },
  });
  assert.equal(patched.status, 422);
  const list = await s.request('GET', '/v1/admin/keys', admin);
  assert.equal(list.status, 200);
  assert.equal(((await list.json()) as Json[]).length, before);
});

test('credit amounts and image indexes must be written as plain integers', async () => {
  for (const amount of ['1e3', '0x10', 1.5]) {
    const res = await s.request('POST', `/v1/admin/keys/${keyId}/credits`, {
      ...admin,
      body: { amount, reason: 'test' },
    });
    assert.equal(res.status, 422, `amount ${String(amount)}: ${res.status}`);
    assert.equal(((await res.json()) as Json)['field'], 'amount');
  }
  const ok = await s.request('POST', `/v1/admin/keys/${keyId}/credits`, {
    ...admin,
    body: { amount: 3, reason: 'test' },
  });
  assert.equal(((await ok.json()) as Json)['credits'], 103);
  for (const index of ['0x1', '1e0', '+1', ' 1']) {
    const res = await s.request(
      'GET',
      `/v1/jobs/job_none/image?index=${encodeURIComponent(index)}`,
      {
        key,
      },
    );
    assert.equal(res.status, 422, `index=${index}: ${res.status}`);
  }
});

test('priority below 0 says the range; null numbers mean the default', async () => {
  const negative = await s.request('POST', '/v1/jobs', {
    key,
    body: { prompt: 'x', steps: 1, priority: -1 },
  });
  assert.equal(negative.status, 422);
  const problem = (await negative.json()) as Json;
  assert.equal(problem['field'], 'priority');
  assert.doesNotMatch(String(problem['detail']), /above/);
  const nulls = await s.request('POST', '/v1/generate', {
    key,
    body: { prompt: 'x', width: null, height: null, steps: 1, seed: null, guidance_scale: null },
  });
  assert.equal(nulls.status, 200, await nulls.clone().text());
});

test('OpenAI: a bad quality names quality, not output_compression', async () => {
  const res = await s.request('POST', '/v1/images/generations', {
    key,
    body: { prompt: 'x', quality: 'ultra' },
  });
  assert.equal(res.status, 400);
  const body = (await res.json()) as { error: { param: string } };
  assert.equal(body.error.param, 'quality');
});

test('one configurable prompt limit on every dialect, for prompt and negative prompt', async () => {
  const long = 'x'.repeat(51);
  const cases: [string, Json, (body: Json) => string][] = [
    ['/v1/generate', { prompt: long, steps: 1 }, (b) => String(b['field'])],
    ['/v1/jobs', { prompt: 'ok', negative_prompt: long, steps: 1 }, (b) => String(b['field'])],
    [
      '/v1/images/generations',
      { prompt: long },
      (b) => String((b['error'] as { param: string }).param),
    ],
    ['/sdapi/v1/txt2img', { prompt: long, steps: 1 }, (b) => JSON.stringify(b['detail'])],
    [
      '/sdapi/v1/txt2img',
      { prompt: 'ok', negative_prompt: long, steps: 1 },
      (b) => JSON.stringify(b['detail']),
    ],
  ];
  for (const [route, body, fieldOf] of cases) {
    const res = await s.request('POST', route, { key, body });
    assert.ok(res.status === 400 || res.status === 422, `${route}: ${res.status}`);
    assert.match(fieldOf((await res.json()) as Json), /prompt/, route);
  }
  const fits = await s.request('POST', '/v1/generate', {
    key,
    body: { prompt: 'x'.repeat(50), steps: 1 },
  });
  assert.equal(fits.status, 200);
});
