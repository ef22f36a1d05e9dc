// Response schemas document the API; they must not change it. Every answer of the native API,
// the admin and the account routes is checked against its documented response
// (test/helpers/response-audit.ts): status and content type documented, JSON valid against the
// schema, and the body sent equal to the handler's value. The dialects are audited the same way
// by every test in test/dialects (dialect-server.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { solidPng } from '../../src/workers/engines/tiny-png.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';
import { auditResponses } from '../helpers/response-audit.ts';

describe('the response audit', () => {
  test('catches what a narrow schema does to a body under Fastify’s default serializer', async () => {
    const app = Fastify();
    const audit = auditResponses(app);
    const schema = { type: 'object', properties: { seed: { type: 'integer' } } };
    app.get('/narrow', { schema: { response: { 200: schema } } }, () => ({
      seed: 1.5,
      extra: 'dropped by fast-json-stringify',
    }));
    // As Pictor serializes (build-app.ts): the body as it is, so a wrong type reaches the client.
    app.get(
      '/wrong',
      {
        schema: { response: { 200: schema } },
        serializerCompiler: () => (data) => JSON.stringify(data),
      },
      () => ({ seed: 'text' }),
    );
    await app.inject({ method: 'GET', url: '/narrow' });
    await app.inject({ method: 'GET', url: '/wrong' });
    await app.close();
    assert.equal(audit.checked, 2);
    assert.match(audit.failures.join('\n'), /GET \/narrow → 200: .*differs/);
    assert.match(audit.failures.join('\n'), /GET \/wrong → 200: does not match its schema/);
  });
});

describe('native, admin and account answers match their documented responses', () => {
  test('jobs, generation, models, uploads, keys, credits, reports, users and errors', async () => {
    const admin = `sk_test_admin_${'1'.repeat(40)}`;
    const pictor = await startPictor(
      testConfig({
        PICTOR_AUTH__ENABLED: 'true',
        PICTOR_AUTH__SIGNUP: 'true',
        PICTOR_ADMIN_KEY: admin,
      }),
      5,
    );
    const audit = auditResponses(pictor.app);
    const call = async (
      method: 'GET' | 'POST' | 'PUT' | 'DELETE',
      url: string,
      expected: number,
      options: { key?: string; body?: unknown } = {},
    ) => {
      const res = await pictor.app.inject({
        method,
        url,
        headers: {
          authorization: `Bearer ${options.key ?? admin}`,
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(options.body === undefined ? {} : { payload: JSON.stringify(options.body) }),
      });
      assert.equal(res.statusCode, expected, `${method} ${url}: ${res.body.slice(0, 300)}`);
      return res;
    };
    try {
      const created = await call('POST', '/v1/admin/keys', 201, {
        body: { name: 'audit', credits: 1000, scopes: ['generate'] },
      });
      const { id: keyId, key } = created.json<{ id: string; key: string }>();
      const as = { key };
      const body = { prompt: 'a red fox', steps: 2, width: 64, height: 64 };

      for (const url of ['/v1/health/live', '/health', '/v1/models', '/v1/models/default'])
        await call('GET', url, url === '/v1/models/default' ? 404 : 200, as);
      const model = (await call('GET', '/v1/models', 200, as)).json<{ data: { name: string }[] }>()
        .data[0]?.name;
      assert.ok(model);
      await call('GET', `/v1/models/${model}`, 200, as);
      await call('GET', '/v1/queue', 200, as);

      const generated = await call('POST', '/v1/generate', 200, { ...as, body });
      const jobId = generated.json<{ job_id: string }>().job_id;
      await call('POST', `/v1/generate/${model}`, 200, { ...as, body });
      await call('POST', '/v1/generate/raw', 200, { ...as, body });
      await call('GET', '/v1/txt2img?prompt=fox&steps=2&width=64&height=64', 200, as);
      await call('POST', '/v1/jobs', 202, { ...as, body });
      await call('GET', `/v1/jobs/${jobId}`, 200, as);
      await call('GET', '/v1/jobs?limit=2', 200, as);
      await call('GET', `/v1/jobs/${jobId}/image`, 200, as);
      await call('DELETE', `/v1/jobs/${jobId}`, 409, as);
      const png = solidPng(64, 64, [255, 0, 0]).toString('base64');
      await call('POST', '/v1/uploads', 201, { ...as, body: { image: png } });

      await call('GET', '/v1/account/balance', 200, as);
      await call('GET', '/v1/account/usage', 200, as);
      await call('GET', '/v1/admin/keys', 200);
      await call('GET', `/v1/admin/keys/${keyId}`, 200);
      await call('PUT', `/v1/admin/keys/${keyId}`, 200, { body: { rate_limit: 100 } });
      await call('POST', `/v1/admin/keys/${keyId}/credits`, 200, {
        body: { amount: 5, reason: 'audit' },
      });
      await call('GET', `/v1/admin/keys/${keyId}/ledger`, 200);
      await call('GET', '/v1/admin/analytics', 200);
      await call('POST', '/v1/admin/backup', 201);
      await call('GET', '/v1/admin/backups', 200);
      await call('GET', '/v1/admin/models', 200);
      await call('POST', '/v1/admin/models/scan', 200);
      await call('GET', '/v1/admin/models/pulls/nope', 404);

      const user = { username: 'audit-user', password: 'audit-password-1' };
      await call('POST', '/v1/auth/signup', 201, { body: user });
      const login = await call('POST', '/v1/auth/login', 200, { body: user });
      const token = login.json<{ token: string }>().token;
      const userKey = await call('POST', '/v1/account/keys', 201, {
        key: token,
        body: { name: 'mine' },
      });
      await call('GET', '/v1/account/keys', 200, { key: token });
      await call('DELETE', `/v1/account/keys/${userKey.json<{ id: string }>().id}`, 200, {
        key: token,
      });
      await call('POST', '/v1/auth/logout', 204, { key: token });

      // Errors: problem+json with its documented members.
      await call('POST', '/v1/jobs', 422, { ...as, body: { prompt: 'x', colour: 'red' } });
      await call('GET', '/v1/jobs', 401, { key: 'sk_not_a_key' });
      await call('DELETE', `/v1/admin/keys/${keyId}`, 200);
    } finally {
      await pictor.stop();
    }
    assert.deepEqual(audit.failures, []);
    assert.ok(audit.checked >= 40, `${audit.checked} answers checked`);
  });
});
