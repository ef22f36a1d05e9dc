// Webhooks from a cluster: two `pictor api` processes send from one outbox in PostgreSQL, to a
// real HTTP receiver. Each job's webhook arrives exactly once and verifies with the cluster's
// secret; an API node killed -9 in the middle of a delivery leaves its claim to lapse, and the
// other node sends the delivery again with the same `webhook-id`.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { ADMIN_KEY, startCluster, type ApiNode } from '../helpers/cluster-nodes.ts';
import { postgresUnavailable } from '../helpers/databases.ts';
import { eventually, redisUnavailable } from '../helpers/redis.ts';

const skip = (await redisUnavailable()) ?? (await postgresUnavailable());
/** What startCluster gives every node (`PICTOR_WEBHOOKS__SECRET`). */
const SECRET = 'whsec_Y2x1c3Rlci10ZXN0LXNlY3JldC0wMDAwMDA=';
/** The receiver is on loopback; a short send timeout keeps the lapse test's claim short. */
const HOOKS = {
  PICTOR_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES: 'true',
  PICTOR_WEBHOOKS__TIMEOUT_MS: '3000',
};

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A webhook receiver; `answer` decides each request's fate (204 unless it says otherwise). */
async function receiver(
  answer: (r: Received, res: ServerResponse) => void = (_r, res) => res.writeHead(204).end(),
) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const r = { headers: req.headers, body };
      received.push(r);
      answer(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    received,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

async function submit(node: ApiNode, url: string): Promise<string | undefined> {
  const response = await fetch(`${node.url}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a hook', steps: 2, width: 64, height: 64, webhook_url: url }),
  });
  const json = (await response.json()) as { job_id?: string };
  return response.status === 202 ? json.job_id : undefined;
}

test(
  'two API nodes, 40 jobs with a webhook: each arrives exactly once, signed',
  { skip, timeout: 180_000 },
  async (t) => {
    const hook = await receiver();
    t.after(() => hook.close());
    const c = await startCluster(t, { env: HOOKS });
    const a = await c.api();
    const b = await c.api();
    await c.worker();
    // The worker's advertisement reaches both API nodes within their refresh.
    for (const node of [a, b]) await eventually(() => submit(node, hook.url), 30_000);
    const ids: string[] = [];
    for (let i = 0; i < 38; i++) {
      const id = await submit(i % 2 === 0 ? a : b, hook.url);
      assert.ok(id);
      ids.push(id);
    }
    // Every row delivered and settled (no claim left): no send is under way or can follow.
    await eventually(async () => {
      const rows = await c.query<{ n: string }>(
        `SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'delivered' AND claimed_by IS NULL`,
      );
      return Number(rows[0]?.n) === 40 ? true : undefined;
    }, 120_000);
    const rows = await c.query<{ id: string; attempts: number }>(
      'SELECT id, attempts FROM webhook_deliveries',
    );
    assert.equal(rows.length, 40);
    assert.ok(
      rows.every((r) => Number(r.attempts) === 1),
      'one attempt each',
    );
    const sent = hook.received.map((r) => String(r.headers['webhook-id']));
    assert.equal(sent.length, 40, `received ${sent.length} for 40 deliveries`);
    assert.deepEqual(new Set(sent), new Set(rows.map((r) => r.id)), 'each delivery once');
    const verifier = new Webhook(SECRET);
    const jobs = hook.received.map((r) => {
      const event = verifier.verify(r.body, r.headers as Record<string, string>) as {
        type: string;
        data: { job_id: string };
      };
      assert.equal(event.type, 'job.completed');
      return event.data.job_id;
    });
    for (const id of ids) assert.ok(jobs.includes(id), `job ${id}'s webhook arrived`);
  },
);

test(
  'kill -9 the API node mid-delivery: its claim lapses and the other node sends it again, same webhook-id',
  { skip, timeout: 180_000 },
  async (t) => {
    // The first request is left unanswered (its sender is killed meanwhile); later ones get 204.
    let held: ServerResponse | undefined;
    const hook = await receiver((_r, res) => {
      if (held === undefined) held = res;
      else res.writeHead(204).end();
    });
    t.after(() => hook.close());
    const c = await startCluster(t, { env: HOOKS });
    const nodes = [await c.api(), await c.api()];
    await c.worker();
    const id = await eventually(() => submit(nodes[0] as ApiNode, hook.url), 30_000);
    await eventually(() => Promise.resolve(hook.received.length > 0 ? true : undefined), 60_000);
    // The claimant is named by its node id, `<host>-<pid>-<random>`: kill that process.
    const [row] = await c.query<{ claimed_by: string }>(
      'SELECT claimed_by FROM webhook_deliveries WHERE job_id = $1',
      [id],
    );
    const sender = nodes.find((n) => row?.claimed_by.includes(`-${n.child.pid}-`));
    assert.ok(sender, `the claimant ${row?.claimed_by} is one of the API nodes`);
    await c.kill(sender.child);
    await eventually(() => Promise.resolve(hook.received.length >= 2 ? true : undefined), 60_000);
    const [first, second] = hook.received;
    assert.equal(
      second?.headers['webhook-id'],
      first?.headers['webhook-id'],
      'a stable webhook-id',
    );
    new Webhook(SECRET).verify(second?.body ?? '', second?.headers as Record<string, string>);
    const done = await eventually(async () => {
      const [r] = await c.query<{ status: string; attempts: number; claimed_by: string | null }>(
        'SELECT status, attempts, claimed_by FROM webhook_deliveries WHERE job_id = $1',
        [id],
      );
      return r?.status === 'delivered' ? r : undefined;
    }, 30_000);
    assert.equal(Number(done.attempts), 2, 'the lost attempt counted');
    assert.equal(hook.received.length, 2);
  },
);
