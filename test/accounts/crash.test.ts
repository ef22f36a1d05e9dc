import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { dialects } from '../helpers/databases.ts';
import {
  createPostgresDatabase,
  databaseEnv,
  newDataDir,
  spawnServer,
  waitFor,
  type ServerProcess,
} from './helpers.ts';

type Json = Record<string, unknown>;

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

async function call(
  server: ServerProcess,
  method: string,
  route: string,
  auth: Record<string, string>,
  body?: unknown,
): Promise<Response> {
  return fetch(`${server.base}${route}`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

for (const dialect of await dialects()) {
  describe(`pictor serve in a child process on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('kill -9 mid-queue: after the restart every job completed or was refunded, none charged twice; keys never logged', async () => {
      const dataDir = newDataDir();
      const pgdb = dialect.name === 'postgres' ? await createPostgresDatabase() : undefined;
      const env = { ...databaseEnv(dialect.name, pgdb?.url), PICTOR_LOG__LEVEL: 'info' };
      let first: ServerProcess | undefined;
      let second: ServerProcess | undefined;
      try {
        first = await spawnServer(dataDir, env);
        // A first start on an empty database creates an admin key and prints it once.
        const adminKey = /admin API key[^\n]*\n\s*\n\s*(sk_\S+)/.exec(first.output())?.[1];
        assert.ok(adminKey, first.output());
        const admin = { authorization: `Bearer ${adminKey}` };
        const created = (await (
          await call(first, 'POST', '/v1/admin/keys', admin, {
            name: 'customer',
            credits: 20,
            rate_limit: 0,
            max_jobs: 0,
          })
        ).json()) as { id: string; key: string };
        const key = created.key;
        const bearer = { authorization: `Bearer ${key}` };
        const basic = { authorization: `Basic ${Buffer.from(`user:${key}`).toString('base64')}` };
        assert.equal((await call(first, 'GET', '/v1/account/balance', basic)).status, 200);
        assert.equal((await call(first, 'GET', `/v1/account/usage?token=${key}`, {})).status, 200);
        assert.equal((await call(first, 'GET', '/v1/admin/keys', bearer)).status, 403);

        const ids: string[] = [];
        const fail = await call(first, 'POST', '/v1/jobs', bearer, {
          prompt: '__fail__',
          steps: 1,
        });
        ids.push(((await fail.json()) as { job_id: string }).job_id);
        for (let i = 0; i < 6; i++) {
          const res = await call(first, 'POST', '/v1/jobs', bearer, {
            prompt: `queued ${i}`,
            steps: 25,
            width: 64 + 8 * i,
          });
          assert.equal(res.status, 202);
          ids.push(((await res.json()) as { job_id: string }).job_id);
        }
        const statusOf = async (s: ServerProcess, id: string): Promise<string> =>
          ((await (await call(s, 'GET', `/v1/jobs/${id}`, bearer)).json()) as { status: string })
            .status;
        await waitFor(async () =>
          (await statusOf(first!, ids[1]!)) === 'running' ? true : undefined,
        );
        first.child.kill('SIGKILL');
        await first.exited;

        second = await spawnServer(dataDir, env);
        assert.ok(!second.output().includes('admin API key'), 'the admin key is printed only once');
        const final = ['completed', 'failed', 'cancelled', 'expired'];
        const statuses = await waitFor(
          async () => {
            const all = await Promise.all(ids.map((id) => statusOf(second!, id)));
            return all.every((s) => final.includes(s)) ? all : undefined;
          },
          30_000,
          'every job to finish after the restart',
        );
        assert.equal(statuses[0], 'failed');
        assert.deepEqual(statuses.slice(1), Array(6).fill('completed'));

        const ledger = (
          (await (
            await call(second, 'GET', `/v1/admin/keys/${created.id}/ledger`, admin)
          ).json()) as {
            data: { kind: string; amount: number; job_id: string | null }[];
          }
        ).data;
        for (const [i, id] of ids.entries()) {
          const kinds = ledger
            .filter((e) => e.job_id === id)
            .map((e) => e.kind)
            .sort();
          assert.deepEqual(
            kinds,
            statuses[i] === 'completed' ? ['charge'] : ['charge', 'refund'],
            id,
          );
        }
        const balance = (await (
          await call(second, 'GET', '/v1/account/balance', bearer)
        ).json()) as Json;
        assert.equal(balance['credits'], 20 - 6);
        assert.equal(
          ledger.reduce((sum, e) => sum + e.amount, 0),
          balance['credits'],
          'the ledger sums to the balance',
        );

        second.child.kill('SIGTERM');
        await second.exited;
        const output = first.output() + second.output();
        assert.equal(
          count(output, adminKey),
          1,
          'the admin key appears once: the first-start banner',
        );
        assert.equal(count(output, key), 0, 'a key appears in the logs');
        assert.equal(count(output, key.slice(9)), 0);
        assert.match(output, /"url":"\/v1\/account\/usage\?token=\[redacted\]"/);
        assert.match(output, /incoming request/, 'requests were logged');
        // The same logs, under the data dir: JSON lines with request ids, and no key.
        const logs = readdirSync(path.join(dataDir, 'logs'))
          .map((f) => readFileSync(path.join(dataDir, 'logs', f), 'utf8'))
          .join('');
        assert.match(logs, /"reqId":"[^"]+".*"msg":"incoming request"/);
        assert.equal(count(logs, adminKey), 0, 'the admin key is not in the log file');
        assert.equal(count(logs, key.slice(9)), 0, 'a key appears in the log file');
      } finally {
        first?.child.kill('SIGKILL');
        second?.child.kill('SIGKILL');
        await pgdb?.drop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}

test('PICTOR_ADMIN_KEY creates that admin key instead; auth off warns at start', async () => {
  const dataDir = newDataDir();
  const adminKey = `sk_automation_${'x'.repeat(32)}`;
  try {
    const server = await spawnServer(dataDir, { PICTOR_ADMIN_KEY: adminKey });
    assert.ok(!server.output().includes('admin API key'));
    const res = await call(server, 'GET', '/v1/admin/keys', {
      authorization: `Bearer ${adminKey}`,
    });
    const keys = ((await res.json()) as { data: { name: string; scopes: string[] }[] }).data;
    assert.deepEqual(
      keys.map((k) => [k.name, k.scopes]),
      [['admin (PICTOR_ADMIN_KEY)', ['generate', 'admin']]],
    );
    server.child.kill('SIGTERM');
    await server.exited;
    const open = await spawnServer(dataDir, { PICTOR_AUTH__ENABLED: 'false' });
    assert.match(open.output(), /warning: auth\.enabled is false/);
    assert.equal((await call(open, 'GET', '/v1/account/balance', {})).status, 200);
    open.child.kill('SIGTERM');
    await open.exited;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
