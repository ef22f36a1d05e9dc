import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KyselyCreditStore } from '../../src/store/index.ts';
import { dialects } from '../helpers/databases.ts';
import { ADMIN_KEY, startAuthServer, type AuthServer } from '../accounts/helpers.ts';

type Json = Record<string, unknown>;

/** `{"a":{"a":…}}` nested `depth` levels, built as text (building the object would be the bug). */
function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

for (const dialect of await dialects()) {
  describe(`hostile JSON on ${dialect.name}`, { skip: dialect.skip }, () => {
    let s: AuthServer;
    let credits: KyselyCreditStore;
    before(async () => {
      s = await startAuthServer(dialect.name);
      credits = new KyselyCreditStore(s.db);
    });
    after(async () => {
      await s.stop();
    });

    const raw = (route: string, key: string, body: string) =>
      fetch(`${s.base}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body,
      });

    test('a 20,000-deep ignored field is refused before anything runs or is charged', async () => {
      const { key, id } = await s.createKey({ name: 'deep', credits: 5 });
      const deep = nested(20_000);
      for (const [route, prefix] of [
        ['/sdapi/v1/txt2img', '{"prompt":"a red circle","steps":1,"ignored":'],
        ['/v1/generate', '{"prompt":"a red circle","steps":1,"ignored":'],
        ['/v1/images/generations', '{"prompt":"a red circle","ignored":'],
      ] as const) {
        const res = await raw(route, key, `${prefix}${deep}}`);
        assert.equal(res.status, 400, `${route}: ${await res.clone().text()}`);
        const body = (await res.json()) as Json;
        assert.match(JSON.stringify(body), /deeper than 64/, route);
      }
      assert.equal(await credits.balance(id), 5);
      // A body nested within the limit still works.
      const ok = await raw('/sdapi/v1/txt2img', key, `{"prompt":"ok","steps":1,"x":${nested(40)}}`);
      assert.equal(ok.status, 200, await ok.clone().text());
    });

    test('NUL characters are refused at the edge on every dialect, and nothing breaks after', async () => {
      const { key, id } = await s.createKey({ name: 'nul', credits: 5 });
      for (const [route, body, shape] of [
        ['/v1/generate', { prompt: 'a\u0000b', steps: 1 }, 'code'],
        ['/v1/jobs', { prompt: 'ok', negative_prompt: '\u0000', steps: 1 }, 'code'],
        ['/v1/images/generations', { prompt: 'a\u0000b' }, 'error'],
        ['/sdapi/v1/txt2img', { prompt: 'a\u0000b', steps: 1 }, 'detail'],
      ] as const) {
        const res = await s.request('POST', route, { key, body });
        assert.ok(res.status === 400 || res.status === 422, `${route}: ${res.status}`);
        const answer = (await res.json()) as Json;
        assert.ok(shape in answer, `${route} answers in its own shape: ${JSON.stringify(answer)}`);
        assert.match(JSON.stringify(answer), /NUL/, route);
      }
      assert.equal(await credits.balance(id), 5);
      const admin = { key: ADMIN_KEY };
      const badName = await s.request('POST', '/v1/admin/keys', {
        ...admin,
        body: { name: 'x\u0000y' },
      });
      assert.equal(badName.status, 422);
      const badReason = await s.request('POST', `/v1/admin/keys/${id}/credits`, {
        ...admin,
        body: { amount: 1, reason: 'r\u0000' },
      });
      assert.equal(badReason.status, 422);
      for (const route of [
        '/v1/admin/keys/abc%00def',
        '/v1/jobs/abc%00',
        `/v1/admin/keys/${id}/ledger?limit=1%00`,
      ]) {
        const res = await s.request('GET', route, admin);
        assert.equal(res.status, 400, `${route}: ${res.status}`);
        assert.equal(((await res.json()) as Json)['code'], 'BAD_REQUEST');
      }
      for (const route of ['/v1/admin/keys', '/v1/admin/analytics', `/v1/admin/keys/${id}`]) {
        const res = await s.request('GET', route, admin);
        assert.equal(res.status, 200, `${route} still answers`);
      }
      assert.equal((await s.request('GET', '/v1/account/usage', { key })).status, 200);
    });
  });
}
