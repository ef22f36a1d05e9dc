import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, startAuthServer, type AuthServer } from '../accounts/helpers.ts';

// Issue 16 items 11 and 12: the free key-less link accepted 150 steps at 512² and a webhook;
// signed image links outlived their key; `?token=` with an admin key opened admin routes.

let s: AuthServer;

before(async () => {
  s = await startAuthServer('sqlite', {
    PICTOR_AUTH__KEYLESS_MAX_STEPS: '4',
    PICTOR_AUTH__KEYLESS_MAX_SIZE: '256',
    PICTOR_AUTH__KEYLESS_RATE_LIMIT: '0',
  });
});
after(() => s.stop());

const link = (query: string) => fetch(`${s.base}/v1/txt2img?prompt=a%20fox&${query}`);

test('the key-less link has its own limits: steps, size, one image, no webhooks', async () => {
  const refused: [string, string][] = [
    ['steps=10', 'steps'],
    ['width=512', 'width'],
    ['height=1024', 'height'],
    ['n=2', 'n'],
    [`webhook_url=${encodeURIComponent('https://example.com/hook')}`, 'webhook_url'],
  ];
  for (const [query, field] of refused) {
    const res = await link(query);
    assert.equal(res.status, 422, query);
    const problem = (await res.json()) as { field: string; detail: string };
    assert.equal(problem.field, field, query);
    assert.match(problem.detail, /without an API key/, query);
  }
  // Within the limits, and with the model's defaults brought within them, it works.
  for (const query of ['steps=4&width=256&height=256', '']) {
    const res = await link(query);
    assert.equal(res.status, 200, `${query}: ${res.status}`);
    assert.equal(res.headers.get('content-type'), 'image/png');
  }
  // A key lifts the key-less limits (the model's own apply).
  const { key } = await s.createKey({ name: 'keyed', credits: 5 });
  const keyed = await fetch(`${s.base}/v1/txt2img?prompt=a%20fox&steps=8&width=512`, {
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(keyed.status, 200);
});

test('a signed image link stops working when its key is deactivated', async () => {
  const { key, id } = await s.createKey({ name: 'links', credits: 5 });
  const res = await s.request('POST', '/v1/images/generations', {
    key,
    body: { prompt: 'a red circle', size: '256x256', response_format: 'url' },
  });
  assert.equal(res.status, 200, await res.clone().text());
  const issued = new URL(((await res.json()) as { data: { url: string }[] }).data[0]?.url ?? '');
  // The server listens on a random port; its public URL names the configured one.
  const url = `${s.base}${issued.pathname}${issued.search}`;
  assert.equal((await fetch(url)).status, 200, 'the link works while the key does');
  const deactivated = await s.request('DELETE', `/v1/admin/keys/${id}`, { key: ADMIN_KEY });
  assert.ok(deactivated.ok, String(deactivated.status));
  const revoked = await fetch(url);
  assert.equal(revoked.status, 403);
  const body = (await revoked.json()) as { error: { message: string } };
  assert.match(body.error.message, /revoked: the API key was deactivated/);
});

test('an admin key is never accepted in a URL; in a header it is', async () => {
  const viaUrl = await fetch(`${s.base}/v1/admin/keys?token=${ADMIN_KEY}`);
  assert.equal(viaUrl.status, 401);
  const problem = (await viaUrl.json()) as { detail: string };
  assert.match(problem.detail, /never accepted in a URL/);
  assert.ok(!JSON.stringify(problem).includes(ADMIN_KEY), 'the key is not echoed');
  const onLink = await fetch(`${s.base}/v1/txt2img?prompt=x&steps=1&token=${ADMIN_KEY}`);
  assert.equal(onLink.status, 401, 'not on generation links either');
  const viaHeader = await s.request('GET', '/v1/admin/keys', { key: ADMIN_KEY });
  assert.equal(viaHeader.status, 200);
});
