// Two `pictor serve` processes sharing one PostgreSQL database and one Redis: a key's credits
// and its max_jobs hold across both, under 50 concurrent requests spread over the two.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects } from '../helpers/databases.ts';
import { redisUnavailable, REDIS_URL } from '../helpers/redis.ts';
import {
  ADMIN_KEY,
  createPostgresDatabase,
  databaseEnv,
  newDataDir,
  spawnServer,
  waitFor,
  type ServerProcess,
} from './helpers.ts';

type Json = Record<string, unknown>;

const postgres = (await dialects()).find((d) => d.name === 'postgres');
const skip = postgres?.skip ?? (await redisUnavailable());

async function call(
  server: ServerProcess,
  method: string,
  route: string,
  key: string,
  body?: unknown,
): Promise<Response> {
  return fetch(`${server.base}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

describe('two API processes on one PostgreSQL and one Redis', { skip }, () => {
  let nodes: [ServerProcess, ServerProcess];
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;

  before(async () => {
    database = await createPostgresDatabase();
    const env = {
      ...databaseEnv('postgres', database.url),
      PICTOR_REDIS__URL: REDIS_URL,
      PICTOR_ADMIN_KEY: ADMIN_KEY,
    };
    // One after the other: the first creates the schema.
    const first = await spawnServer(newDataDir(), env);
    nodes = [first, await spawnServer(newDataDir(), env)];
  });

  after(async () => {
    for (const node of nodes ?? []) {
      node.child.kill('SIGTERM');
      await node.exited;
    }
    await database?.drop();
  });

  async function createKey(fields: Json): Promise<{ id: string; key: string }> {
    const res = await call(nodes[0], 'POST', '/v1/admin/keys', ADMIN_KEY, fields);
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()) as { id: string; key: string };
  }

  /** 50 submissions at once, alternating between the nodes. */
  async function burst(key: string, body: Json): Promise<{ node: number; res: Response }[]> {
    return Promise.all(
      Array.from({ length: 50 }, async (_, i) => ({
        node: i % 2,
        res: await call(nodes[i % 2] as ServerProcess, 'POST', '/v1/jobs', key, {
          ...body,
          prompt: `burst ${i}`,
        }),
      })),
    );
  }

  async function inFlight(node: ServerProcess, id: string): Promise<unknown> {
    const res = await call(node, 'GET', `/v1/admin/keys/${id}`, ADMIN_KEY);
    return ((await res.json()) as Json)['jobs_in_flight'];
  }

  /** The key's balance equals the sum of its ledger, as both nodes report it. */
  async function assertBalanceIsLedger(id: string, expected: number): Promise<void> {
    for (const node of nodes) {
      const key = (await (
        await call(node, 'GET', `/v1/admin/keys/${id}`, ADMIN_KEY)
      ).json()) as Json;
      const ledger = (await (
        await call(node, 'GET', `/v1/admin/keys/${id}/ledger`, ADMIN_KEY)
      ).json()) as { data: { amount: number }[] };
      assert.equal(key['credits'], expected);
      assert.equal(
        ledger.data.reduce((sum, entry) => sum + entry.amount, 0),
        expected,
        'the ledger sums to the balance',
      );
    }
  }

  test('3 credits, 50 concurrent requests over both nodes: exactly 3 accepted, the rest 402', async () => {
    const { id, key } = await createKey({ name: 'three', credits: 3, rate_limit: 0, max_jobs: 0 });
    const outcomes = await burst(key, { steps: 1 });
    const statuses = outcomes.map((o) => o.res.status);
    assert.equal(statuses.filter((s) => s === 202).length, 3, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 402).length, 47, statuses.join(','));
    const refused = (await outcomes.find((o) => o.res.status === 402)?.res.json()) as Json;
    assert.equal(refused['code'], 'INSUFFICIENT_CREDITS');
    await assertBalanceIsLedger(id, 0);
  });

  test('max_jobs 3, 50 concurrent requests over both nodes: exactly 3 accepted, the rest 429; the slots free on cancel', async () => {
    const { id, key } = await createKey({
      name: 'busy',
      credits: 100,
      rate_limit: 0,
      max_jobs: 3,
    });
    // Both nodes' workers are kept busy for seconds (each occupying job its own batch), so none
    // of the burst's jobs can finish, and free its slot, while the burst is on.
    const occupier = await createKey({
      name: 'occupier',
      credits: 1000,
      rate_limit: 0,
      max_jobs: 0,
    });
    for (const node of nodes) {
      for (let steps = 50; steps > 40; steps--) {
        const res = await call(node, 'POST', '/v1/jobs', occupier.key, { prompt: 'busy', steps });
        assert.equal(res.status, 202, await res.clone().text());
      }
    }
    const outcomes = await burst(key, { steps: 1 });
    const statuses = outcomes.map((o) => o.res.status);
    assert.equal(statuses.filter((s) => s === 202).length, 3, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 47, statuses.join(','));
    const refused = outcomes.find((o) => o.res.status === 429)?.res as Response;
    assert.equal(((await refused.json()) as Json)['code'], 'TOO_MANY_JOBS');
    assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
    await assertBalanceIsLedger(id, 100 - 3);
    for (const node of nodes) {
      assert.equal(await inFlight(node, id), 3, 'both nodes count the same slots');
    }

    // Each job is cancelled on the node that accepted it (the node running it); the other node
    // then sees the key's slots free.
    for (const { node, res } of outcomes.filter((o) => o.res.status === 202)) {
      const { job_id } = (await res.json()) as { job_id: string };
      const cancel = await call(nodes[node] as ServerProcess, 'DELETE', `/v1/jobs/${job_id}`, key);
      assert.equal(cancel.status, 200, await cancel.clone().text());
    }
    for (const node of nodes) {
      // The cancel answers once the job is cancelled; its slot's release is one round trip more.
      await waitFor(
        async () => ((await inFlight(node, id)) === 0 ? true : undefined),
        10_000,
        'the slots to be free',
      );
    }
    await assertBalanceIsLedger(id, 100);
    const again = await call(nodes[1], 'POST', '/v1/jobs', key, { prompt: 'again', steps: 1 });
    assert.equal(again.status, 202);
  });
});
