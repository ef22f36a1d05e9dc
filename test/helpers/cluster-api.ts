// What tests do to a cluster's API nodes: calls with a key, keys with credits, submissions, and
// the books checked after (every accepted job completed or refunded, balances equal the ledger).
import assert from 'node:assert/strict';
import { ADMIN_KEY, type ApiNode, type TestCluster } from './cluster-nodes.ts';
import { eventually } from './redis.ts';

export async function call(
  node: ApiNode,
  method: string,
  route: string,
  key: string,
  body?: unknown,
): Promise<{ status: number; type: string; headers: Headers; json: Record<string, unknown> }> {
  const response = await fetch(`${node.url}${route}`, {
    method,
    // Bounded: a node that never answers fails the test rather than hanging it.
    signal: AbortSignal.timeout(120_000),
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    headers: response.headers,
    json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/**
 * A key with `credits` and no rate or in-flight limit (credits are what is tested), made through
 * `node`'s admin API; resolves with its secret.
 */
export async function keyWith(node: ApiNode, credits: number): Promise<string> {
  const made = await call(node, 'POST', '/v1/admin/keys', ADMIN_KEY, {
    name: `test-${credits}`,
    credits,
    rate_limit: 0,
    max_jobs: 0,
  });
  assert.equal(made.status, 201, JSON.stringify(made.json));
  return String(made.json['key']);
}

export async function submit(
  node: ApiNode,
  key: string,
  steps = 4,
): Promise<{ status: number; id: string; json: Record<string, unknown> }> {
  const answer = await call(node, 'POST', '/v1/jobs', key, {
    prompt: 'a red circle',
    steps,
    width: 64,
    height: 64,
  });
  return { status: answer.status, id: String(answer.json['job_id']), json: answer.json };
}

/** Resolves once `node` says job `id` is in `wanted` (polling its row, not waiting a time). */
export function status(
  node: ApiNode,
  key: string,
  id: string,
  wanted: readonly string[],
  ms = 60_000,
) {
  return eventually(async () => {
    const { json } = await call(node, 'GET', `/v1/jobs/${id}`, key);
    return wanted.includes(String(json['status'])) ? String(json['status']) : undefined;
  }, ms);
}

/**
 * The cluster's books: every accepted (charged) job ended — completed and not refunded, or
 * ended otherwise and refunded exactly once — and each key's balance is its ledger's sum.
 */
export async function assertSettled(c: TestCluster): Promise<void> {
  await eventually(async () => {
    const open = await c.query(`SELECT id FROM jobs WHERE status IN ('queued', 'running')`);
    return open.length === 0 ? true : undefined;
  }, 60_000);
  const jobs = await c.query<{ id: string; status: string; charges: string; refunds: string }>(
    `SELECT j.id, j.status,
        (SELECT count(*) FROM credit_ledger l WHERE l.job_id = j.id AND l.kind = 'charge') AS charges,
        (SELECT count(*) FROM credit_ledger l WHERE l.job_id = j.id AND l.kind = 'refund') AS refunds
      FROM jobs j`,
  );
  for (const job of jobs) {
    if (Number(job.charges) === 0) continue; // an admin key's job: not charged
    assert.equal(Number(job.charges), 1, `job ${job.id} charged once`);
    assert.equal(
      Number(job.refunds),
      job.status === 'completed' ? 0 : 1,
      `job ${job.id} (${job.status}) refunded iff it did not complete`,
    );
  }
  const keys = await c.query<{ id: string; credits: number; ledger: string | null }>(
    `SELECT k.id, k.credits, (SELECT sum(amount) FROM credit_ledger l WHERE l.key_id = k.id) AS ledger
      FROM api_keys k WHERE k.scopes NOT LIKE '%admin%'`,
  );
  for (const key of keys)
    assert.equal(Number(key.credits), Number(key.ledger ?? 0), `key ${key.id}`);
}
