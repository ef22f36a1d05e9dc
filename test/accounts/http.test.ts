import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { KyselyCreditStore } from '../../src/store/index.ts';
import { dialects } from '../helpers/databases.ts';
import { ADMIN_KEY, startAuthServer, waitFor, type AuthServer } from './helpers.ts';

type Json = Record<string, unknown>;

for (const dialect of await dialects()) {
  describe(`accounts over real HTTP on ${dialect.name}`, { skip: dialect.skip }, () => {
    let s: AuthServer;
    let credits: KyselyCreditStore;
    before(async () => {
      s = await startAuthServer(dialect.name, { PICTOR_QUEUE__MAX_QUEUED: '200' }, 20);
      credits = new KyselyCreditStore(s.db);
    });
    after(async () => {
      await s.stop();
    });

    const job = (key: string, body: Json, headers: Record<string, string> = {}) =>
      s.request('POST', '/v1/jobs', { key, body, headers });
    const status = async (key: string, id: string): Promise<string> =>
      ((await (await s.request('GET', `/v1/jobs/${id}`, { key })).json()) as { status: string })
        .status;
    const ledgerOf = async (keyId: string) =>
      (await credits.entries(keyId, 1000)).map((e) => ({
        kind: e.kind,
        job: e.jobId,
        amount: e.amount,
      }));

    test('50 concurrent requests on a key with 3 credits: exactly 3 accepted, the rest 402', async () => {
      const { key, id } = await s.createKey({
        name: 'race',
        credits: 3,
        rate_limit: 0,
        max_jobs: 0,
      });
      const responses = await Promise.all(
        Array.from({ length: 50 }, (_, i) => job(key, { prompt: `race ${i}`, steps: 1 })),
      );
      const codes = responses.map((r) => r.status);
      assert.equal(codes.filter((c) => c === 202).length, 3, codes.join(','));
      assert.equal(codes.filter((c) => c === 402).length, 47, codes.join(','));
      const problem = (await responses.find((r) => r.status === 402)?.json()) as Json;
      assert.equal(problem['code'], 'INSUFFICIENT_CREDITS');
      assert.equal(problem['balance'], 0);
      assert.equal(problem['cost'], 1);
      assert.match(String(problem['detail']), /costs 1 credit but the key has 0/);
      const balance = (await (
        await s.request('GET', '/v1/account/balance', { key })
      ).json()) as Json;
      assert.equal(balance['credits'], 0);
      assert.equal(await credits.sum(id), 0);
      assert.equal((await ledgerOf(id)).filter((e) => e.kind === 'charge').length, 3);
      // The accepted jobs run to completion and stay charged.
      for (const r of responses.filter((x) => x.status === 202)) {
        const { job_id } = (await r.json()) as { job_id: string };
        await waitFor(async () => ((await status(key, job_id)) === 'completed' ? true : undefined));
      }
      assert.equal(await credits.balance(id), 0);
    });

    test('an idempotent retry storm creates one job and charges once; another body is 422', async () => {
      const { key, id } = await s.createKey({ name: 'storm', credits: 5, rate_limit: 0 });
      const body = { prompt: 'once', steps: 1, seed: 4 };
      const headers = { 'idempotency-key': 'order-1234' };
      const storm = await Promise.all(Array.from({ length: 20 }, () => job(key, body, headers)));
      assert.ok(storm.every((r) => r.status === 202));
      const ids = new Set(
        await Promise.all(storm.map(async (r) => ((await r.json()) as { job_id: string }).job_id)),
      );
      assert.equal(ids.size, 1);
      assert.equal(storm.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 19);
      assert.equal(await credits.balance(id), 4);
      const reordered = await job(key, { seed: 4, steps: 1, prompt: 'once' }, headers);
      assert.equal(((await reordered.json()) as { job_id: string }).job_id, [...ids][0]);
      const other = await job(key, { ...body, prompt: 'twice' }, headers);
      assert.equal(other.status, 422);
      assert.equal(((await other.json()) as Json)['code'], 'IDEMPOTENCY_MISMATCH');
      // /v1/generate: the retry returns the same finished job, free.
      const gen = () =>
        s.request('POST', '/v1/generate', {
          key,
          body: { prompt: 'sync', steps: 1 },
          headers: { 'idempotency-key': 'gen-1' },
        });
      const first = (await (await gen()).json()) as Json;
      const again = (await (await gen()).json()) as Json;
      assert.equal(again['job_id'], first['job_id']);
      assert.equal(again['image'], first['image']);
      assert.equal(await credits.balance(id), 3);
      // Keys are per caller: another key's same Idempotency-Key is its own request.
      const other2 = await s.createKey({ name: 'other', credits: 1 });
      const theirs = await job(other2.key, body, headers);
      assert.notEqual(((await theirs.json()) as { job_id: string }).job_id, [...ids][0]);
    });

    test('refunds: cancelled (queued and running) and failed jobs are refunded once', async () => {
      const { key, id } = await s.createKey({
        name: 'refunds',
        credits: 10,
        rate_limit: 0,
        max_jobs: 0,
      });
      const running = (await (await job(key, { prompt: 'long', steps: 40 })).json()) as {
        job_id: string;
      };
      const queued = (await (await job(key, { prompt: 'later', steps: 40, width: 72 })).json()) as {
        job_id: string;
      };
      await waitFor(async () =>
        (await status(key, running.job_id)) === 'running' ? true : undefined,
      );
      assert.equal(await credits.balance(id), 8);
      assert.equal((await s.request('DELETE', `/v1/jobs/${queued.job_id}`, { key })).status, 200);
      assert.equal((await s.request('DELETE', `/v1/jobs/${running.job_id}`, { key })).status, 200);
      assert.equal((await s.request('DELETE', `/v1/jobs/${running.job_id}`, { key })).status, 409);
      const failed = await s.request('POST', '/v1/generate', {
        key,
        body: { prompt: '__fail__', steps: 1 },
      });
      assert.equal(failed.status, 422);
      assert.equal(await credits.balance(id), 10);
      const ledger = await ledgerOf(id);
      for (const jobId of [running.job_id, queued.job_id]) {
        assert.deepEqual(
          ledger
            .filter((e) => e.job === jobId)
            .map((e) => [e.kind, e.amount])
            .sort(),
          [
            ['charge', -1],
            ['refund', 1],
          ],
        );
      }
      assert.equal(await credits.sum(id), 10);
    });

    test('a worker killed mid-job: retried on a fresh worker, charged once; a second death refunds', async () => {
      const { key, id } = await s.createKey({ name: 'crash', credits: 5, rate_limit: 0 });
      const { job_id } = (await (await job(key, { prompt: 'survive', steps: 30 })).json()) as {
        job_id: string;
      };
      await waitFor(async () => ((await status(key, job_id)) === 'running' ? true : undefined));
      const [pid] = s.pictor.workers.pids();
      assert.ok(pid);
      process.kill(pid, 'SIGKILL');
      await waitFor(
        async () => ((await status(key, job_id)) === 'completed' ? true : undefined),
        20_000,
      );
      const crash = await s.request('POST', '/v1/generate', {
        key,
        body: { prompt: '__crash__', steps: 2 },
      });
      assert.equal(crash.status, 500);
      const crashed = ((await crash.json()) as { job_id: string }).job_id;
      assert.equal(await credits.balance(id), 4);
      const ledger = await ledgerOf(id);
      assert.deepEqual(
        ledger.filter((e) => e.job === job_id).map((e) => e.kind),
        ['charge'],
      );
      assert.deepEqual(
        ledger
          .filter((e) => e.job === crashed)
          .map((e) => e.kind)
          .sort(),
        ['charge', 'refund'],
      );
    });

    test('deactivated and expired keys get 401; a generate key gets 403 on admin routes', async () => {
      const gone = await s.createKey({ name: 'gone', credits: 1 });
      const expired = await s.createKey({
        name: 'old',
        credits: 1,
        expires_at: '2000-01-01T00:00:00Z',
      });
      const user = await s.createKey({ name: 'user', credits: 1 });
      // Used once (so the server remembers it), then deactivated: refused at once all the same.
      assert.equal((await s.request('GET', '/v1/account/balance', { key: gone.key })).status, 200);
      assert.equal(
        (await s.request('DELETE', `/v1/admin/keys/${gone.id}`, { key: ADMIN_KEY })).status,
        200,
      );
      for (const key of [gone.key, expired.key, 'sk_not_a_key', undefined]) {
        const res = await job(key as string, { prompt: 'x' });
        assert.equal(res.status, 401, String(key));
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="pictor"');
        assert.equal(((await res.json()) as Json)['code'], 'UNAUTHORIZED');
      }
      assert.match(
        String(((await (await job(gone.key, { prompt: 'x' })).json()) as Json)['detail']),
        /deactivated/,
      );
      for (const [method, route] of [
        ['GET', '/v1/admin/keys'],
        ['POST', '/v1/admin/backup'],
        ['GET', '/v1/admin/analytics'],
        ['GET', `/v1/admin/keys/${user.id}`],
      ] as const) {
        const res = await s.request(method, route, { key: user.key });
        assert.equal(res.status, 403, route);
        assert.equal(((await res.json()) as Json)['code'], 'FORBIDDEN');
      }
      // Health, docs and the OpenAPI document need no key.
      // (Readiness may say 503 while a worker restarts; it never asks for a key.)
      for (const route of [
        '/v1/health/live',
        '/health',
        '/v1/health/ready',
        '/openapi.json',
        '/docs/',
      ])
        assert.ok([200, 503].includes((await s.request('GET', route)).status), route);
      assert.equal((await s.request('GET', '/v1/health/live')).status, 200);
      const spec = (await (await s.request('GET', '/openapi.json')).json()) as {
        components: { securitySchemes: Record<string, { scheme: string }> };
        paths: Record<string, unknown>;
      };
      assert.equal(spec.components.securitySchemes['apiKey']?.scheme, 'bearer');
      for (const route of ['/v1/admin/keys', '/v1/admin/keys/{id}/credits', '/v1/account/balance'])
        assert.ok(spec.paths[route], route);
    });

    test('HTTP Basic (key as password) and ?token= on GET work; the token never comes back', async () => {
      const { key, id } = await s.createKey({ name: 'browser', credits: 3 });
      const basic = `Basic ${Buffer.from(`anyone:${key}`).toString('base64')}`;
      const viaBasic = await s.request('GET', '/v1/account/balance', {
        headers: { authorization: basic },
      });
      assert.equal(((await viaBasic.json()) as Json)['key_id'], id);
      const link = await fetch(`${s.base}/v1/txt2img?prompt=fox&steps=1&token=${key}`);
      assert.equal(link.status, 200);
      assert.equal(link.headers.get('content-type'), 'image/png');
      assert.equal(await credits.balance(id), 2, 'a link with a token is charged to the key');
      const missing = await fetch(`${s.base}/v1/jobs/nope?token=${key}`);
      const text = await missing.text();
      assert.equal(missing.status, 404);
      assert.ok(!text.includes(key), text);
      assert.match(text, /token=\[redacted\]/);
      const post = await fetch(`${s.base}/v1/jobs?token=${key}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"prompt":"x"}',
      });
      assert.equal(post.status, 401, 'a token in the URL is for GET links only');
    });

    test('the key-less link works without a key, free and rate limited per address', async () => {
      const res = await fetch(`${s.base}/v1/txt2img?prompt=hello&steps=1`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-pictor-credits-remaining'), 'unlimited');
      assert.equal(res.headers.get('ratelimit-limit'), '10');
      let limited: Response | undefined;
      for (let i = 0; i < 12 && !limited; i++) {
        const r = await fetch(`${s.base}/v1/txt2img?prompt=hello&steps=1&seed=${i}`);
        if (r.status === 429) limited = r;
        else await r.arrayBuffer();
      }
      assert.ok(limited, 'the key-less link is rate limited');
      assert.equal(((await limited.json()) as Json)['code'], 'RATE_LIMITED');
      assert.equal((await s.request('POST', '/v1/jobs', { body: { prompt: 'x' } })).status, 401);
    });

    test('rate limit: 429 with Retry-After and RateLimit headers; max_jobs: 429 TOO_MANY_JOBS', async () => {
      const limited = await s.createKey({ name: 'slow', credits: 10, rate_limit: 3 });
      const seen: Response[] = [];
      for (let i = 0; i < 4; i++)
        seen.push(await s.request('GET', '/v1/account/balance', { key: limited.key }));
      assert.deepEqual(
        seen.map((r) => r.status),
        [200, 200, 200, 429],
      );
      assert.deepEqual(
        seen.map((r) => r.headers.get('ratelimit-remaining')),
        ['2', '1', '0', '0'],
      );
      const refused = seen[3] as Response;
      assert.equal(refused.headers.get('retry-after'), '20');
      assert.equal(refused.headers.get('ratelimit-limit'), '3');
      assert.equal(refused.headers.get('ratelimit-reset'), '60');
      const problem = (await refused.json()) as Json;
      assert.equal(problem['code'], 'RATE_LIMITED');
      assert.equal(problem['retry_after'], 20);

      const busy = await s.createKey({ name: 'busy', credits: 10, rate_limit: 0, max_jobs: 2 });
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => job(busy.key, { prompt: `b${i}`, steps: 30 })),
      );
      assert.deepEqual(results.map((r) => r.status).sort(), [202, 202, 429, 429, 429]);
      const tooMany = (await results.find((r) => r.status === 429)?.json()) as Json;
      assert.equal(tooMany['code'], 'TOO_MANY_JOBS');
      assert.equal(tooMany['max_jobs'], 2);
      assert.equal(await credits.balance(busy.id), 8, 'refused jobs are not charged');
      for (const r of results.filter((x) => x.status === 202)) {
        const { job_id } = (await r.json()) as { job_id: string };
        await s.request('DELETE', `/v1/jobs/${job_id}`, { key: busy.key });
      }
      assert.equal((await job(busy.key, { prompt: 'after', steps: 1 })).status, 202);
    });

    test('a job the database refuses to store is refunded and leaves nothing behind, not even a result', async () => {
      // A real failure of the insert: a trigger refuses jobs whose prompt says so.
      if (dialect.name === 'sqlite') {
        await sql`CREATE TRIGGER refuse_jobs BEFORE INSERT ON jobs WHEN NEW.params LIKE '%refuse me%'
          BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`.execute(s.db);
      } else {
        await sql`CREATE FUNCTION refuse_job() RETURNS trigger AS $$ BEGIN
          IF NEW.params LIKE '%refuse me%' THEN RAISE EXCEPTION 'refused by the test'; END IF;
          RETURN NEW; END $$ LANGUAGE plpgsql`.execute(s.db);
        await sql`CREATE TRIGGER refuse_jobs BEFORE INSERT ON jobs
          FOR EACH ROW EXECUTE FUNCTION refuse_job()`.execute(s.db);
      }
      try {
        const { key, id } = await s.createKey({ name: 'refused', credits: 5, rate_limit: 0 });
        const stats = s.pictor.service.queueStats.bind(s.pictor.service);
        await waitFor(() =>
          Promise.resolve(stats().running + stats().depth === 0 ? true : undefined),
        );
        const resultsDir = path.join(s.config.dataDir, 'blobs', 'results');
        const before = new Set(readdirSync(resultsDir));
        // Nothing queued and the worker idle: nothing else writes results meanwhile.
        const refused = await s.request('POST', '/v1/generate', {
          key,
          body: { prompt: 'refuse me', steps: 2 },
        });
        assert.equal(refused.status, 500);
        assert.match(refused.headers.get('content-type') ?? '', /problem\+json/);
        assert.equal(await credits.balance(id), 5);
        assert.deepEqual(
          (await ledgerOf(id)).map((e) => [e.kind, e.amount]),
          [
            ['refund', 1],
            ['charge', -1],
            ['grant', 5],
          ],
        );
        const rows = await s.db.selectFrom('jobs').select('id').where('owner', '=', id).execute();
        assert.deepEqual(rows, []);
        // The worker is free again and the next job is stored, run and charged as usual.
        const ok = await s.request('POST', '/v1/generate', {
          key,
          body: { prompt: 'a fox', steps: 2 },
        });
        assert.equal(ok.status, 200, await ok.clone().text());
        const { job_id } = (await ok.json()) as { job_id: string };
        assert.equal(await credits.balance(id), 4);
        assert.deepEqual(
          readdirSync(resultsDir).filter((f) => !before.has(f)),
          [`${job_id}-0.png`],
          'the refused job stored no result',
        );
      } finally {
        await sql`DROP TRIGGER refuse_jobs ${dialect.name === 'postgres' ? sql`ON jobs` : sql``}`.execute(
          s.db,
        );
      }
    });

    test('admin API: keys CRUD, credits, ledger, analytics, backups; secrets only at creation', async () => {
      const admin = (method: string, route: string, body?: unknown) =>
        s.request(method, route, { key: ADMIN_KEY, ...(body === undefined ? {} : { body }) });
      const created = (await (
        await admin('POST', '/v1/admin/keys', {
          name: 'customer',
          credits: 2,
          rate_limit: 30,
          max_jobs: 3,
          expires_at: '2099-01-01T00:00:00Z',
          scopes: ['generate'],
          priority: 2,
        })
      ).json()) as Json;
      const secret = String(created['key']);
      const keyId = String(created['id']);
      assert.match(secret, /^sk_/);
      assert.equal(created['prefix'], secret.slice(0, 9));
      assert.deepEqual(
        { ...created, key: undefined, id: undefined, created_at: undefined, prefix: undefined },
        {
          key: undefined,
          id: undefined,
          created_at: undefined,
          prefix: undefined,
          name: 'customer',
          credits: 2,
          rate_limit: 30,
          max_jobs: 3,
          expires_at: '2099-01-01T00:00:00.000Z',
          scopes: ['generate'],
          priority: 2,
          active: true,
          user_id: null,
        },
      );
      const bodies: string[] = [];
      const read = async (res: Response): Promise<Json> => {
        const text = await res.text();
        bodies.push(text);
        return JSON.parse(text) as Json;
      };
      const list = await read(await admin('GET', '/v1/admin/keys'));
      assert.ok((list['data'] as Json[]).some((k) => k['id'] === keyId));
      const shown = await read(await admin('GET', `/v1/admin/keys/${keyId}`));
      assert.equal(shown['jobs_in_flight'], 0);
      const put = await read(
        await admin('PUT', `/v1/admin/keys/${keyId}`, { name: 'renamed', max_jobs: 1 }),
      );
      assert.equal(put['name'], 'renamed');
      assert.equal(put['max_jobs'], 1);
      const noCredits = await admin('PUT', `/v1/admin/keys/${keyId}`, { credits: 100 });
      assert.equal(noCredits.status, 422);
      assert.equal(((await noCredits.json()) as Json)['field'], 'credits');
      const granted = await read(
        await admin('POST', `/v1/admin/keys/${keyId}/credits`, { amount: 5, reason: 'paid' }),
      );
      assert.equal(granted['credits'], 7);
      const tooMuch = await admin('POST', `/v1/admin/keys/${keyId}/credits`, {
        amount: -8,
        reason: 'x',
      });
      assert.equal(tooMuch.status, 422);
      await read(
        await admin('POST', `/v1/admin/keys/${keyId}/credits`, {
          amount: -1,
          reason: 'correction',
        }),
      );
      const ledger = await read(await admin('GET', `/v1/admin/keys/${keyId}/ledger`));
      assert.deepEqual(
        (ledger['data'] as Json[]).map((e) => [
          e['kind'],
          e['amount'],
          e['balance_after'],
          e['reason'],
        ]),
        [
          ['adjustment', -1, 6, 'correction'],
          ['grant', 5, 7, 'paid'],
          ['grant', 2, 2, 'initial credits'],
        ],
      );
      assert.equal((await admin('GET', '/v1/admin/keys/key_missing')).status, 404);
      // Usage shows up in analytics per key, model and day.
      assert.equal(
        (
          await s.request('POST', '/v1/generate', {
            key: secret,
            body: { prompt: 'a', steps: 1, n: 2 },
          })
        ).status,
        200,
      );
      const analytics = await read(await admin('GET', `/v1/admin/analytics?key_id=${keyId}`));
      const row = (analytics['data'] as Json[])[0] as Json;
      assert.equal(row['key_name'], 'renamed');
      assert.equal(row['images'], 2);
      assert.equal(row['credits'], 2);
      assert.equal(row['failures'], 0);
      assert.equal(row['day'], new Date().toISOString().slice(0, 10));
      assert.ok(Number(row['mean_generation_time']) > 0);
      const usage = await read(await s.request('GET', '/v1/account/usage', { key: secret }));
      assert.equal((usage['data'] as Json[])[0]?.['images'], 2);
      assert.equal((usage['ledger'] as Json[])[0]?.['kind'], 'charge');
      const badRange = await s.request('GET', '/v1/account/usage?from=yesterday', { key: secret });
      assert.equal(badRange.status, 422);
      // Backups.
      const backup = await read(await admin('POST', '/v1/admin/backup'));
      assert.match(String(backup['name']), /^pictor-/);
      const backups = await read(await admin('GET', '/v1/admin/backups'));
      assert.ok((backups['data'] as Json[]).some((b) => b['name'] === backup['name']));
      // Deactivation: DELETE keeps the key (and its ledger) but refuses it.
      const deleted = await read(await admin('DELETE', `/v1/admin/keys/${keyId}`));
      assert.equal(deleted['active'], false);
      assert.equal((await s.request('GET', '/v1/account/balance', { key: secret })).status, 401);
      for (const body of bodies) {
        assert.ok(!body.includes(secret), 'a secret appears after creation');
        assert.ok(!body.includes(ADMIN_KEY));
        assert.ok(!/"hash"/.test(body));
      }
    });
  });
}

describe('accounts options', () => {
  test('metrics can require an admin key; sign-up users manage their own keys', async () => {
    const s = await startAuthServer('sqlite', {
      PICTOR_AUTH__PUBLIC_METRICS: 'false',
      PICTOR_AUTH__SIGNUP: 'true',
      PICTOR_AUTH__MAX_KEYS_PER_USER: '2',
      PICTOR_AUTH__KEYLESS_LINK: 'false',
    });
    try {
      assert.equal((await s.request('GET', '/metrics')).status, 401);
      const gen = await s.createKey({ name: 'g' });
      assert.equal((await s.request('GET', '/metrics', { key: gen.key })).status, 403);
      assert.equal((await s.request('GET', '/metrics', { key: ADMIN_KEY })).status, 200);
      assert.equal((await s.request('GET', '/v1/txt2img?prompt=x')).status, 401);

      const credentials = { username: 'ada', password: 'a long passphrase' };
      assert.equal((await s.request('POST', '/v1/auth/signup', { body: credentials })).status, 201);
      assert.equal((await s.request('POST', '/v1/auth/signup', { body: credentials })).status, 409);
      const short = await s.request('POST', '/v1/auth/signup', {
        body: { username: 'bob', password: 'short' },
      });
      assert.equal(((await short.json()) as Json)['field'], 'password');
      const wrong = await s.request('POST', '/v1/auth/login', {
        body: { ...credentials, password: 'nope nope nope' },
      });
      assert.equal(wrong.status, 401);
      const login = (await (
        await s.request('POST', '/v1/auth/login', { body: credentials })
      ).json()) as Json;
      const token = String(login['token']);
      assert.match(token, /^ut_/);
      const mine = await s.request('POST', '/v1/account/keys', {
        key: token,
        body: { name: 'laptop' },
      });
      assert.equal(mine.status, 201);
      const created = (await mine.json()) as Json;
      assert.deepEqual(created['scopes'], ['generate']);
      assert.equal(created['credits'], 0);
      assert.equal(
        (await s.request('POST', '/v1/account/keys', { key: token, body: { name: 'two' } })).status,
        201,
      );
      assert.equal(
        (await s.request('POST', '/v1/account/keys', { key: token, body: { name: 'three' } }))
          .status,
        403,
      );
      const listed = (await (
        await s.request('GET', '/v1/account/keys', { key: token })
      ).json()) as { data: Json[] };
      assert.equal(listed.data.length, 2);
      // The login token manages keys only; the user's key generates (once it has credits).
      assert.equal(
        (await s.request('POST', '/v1/jobs', { key: token, body: { prompt: 'x' } })).status,
        401,
      );
      const userKey = String(created['key']);
      assert.equal(
        (await s.request('POST', '/v1/jobs', { key: userKey, body: { prompt: 'x' } })).status,
        402,
      );
      const other = await s.createKey({ name: 'not hers' });
      assert.equal(
        (await s.request('DELETE', `/v1/account/keys/${other.id}`, { key: token })).status,
        404,
      );
      const off = await s.request('DELETE', `/v1/account/keys/${String(created['id'])}`, {
        key: token,
      });
      assert.equal(((await off.json()) as Json)['active'], false);
      assert.equal((await s.request('GET', '/v1/account/balance', { key: userKey })).status, 401);
      assert.equal((await s.request('POST', '/v1/auth/logout', { key: token })).status, 204);
      assert.equal((await s.request('GET', '/v1/account/keys', { key: token })).status, 401);
    } finally {
      await s.stop();
    }
  });

  test('auth disabled: everyone is local, unmetered, and the admin API is open', async () => {
    const s = await startAuthServer('sqlite', { PICTOR_AUTH__ENABLED: 'false' });
    try {
      const balance = (await (await s.request('GET', '/v1/account/balance')).json()) as Json;
      assert.deepEqual(
        [balance['credits'], balance['key_id'], balance['metered']],
        [null, 'local', false],
      );
      assert.equal((await s.request('GET', '/v1/admin/keys')).status, 200);
      const res = await s.request('POST', '/v1/generate', { body: { prompt: 'x', steps: 1 } });
      assert.equal(((await res.json()) as Json)['credits_used'], null);
      await sleep(0);
    } finally {
      await s.stop();
    }
  });
});
