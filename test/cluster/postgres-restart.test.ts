// Chaos: the cluster's PostgreSQL (a private server: stopped and restarted; the shared one never
// is) goes away under a `pictor api` node and a `pictor worker` node while a job runs. The API
// answers 503 problem+json while it is down; after the restart the job completes (or is retried,
// or refunded), the worker node — the same process — takes the next job, every accepted job is
// completed or refunded, charged once, and balances equal the ledger.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { assertSettled, call, keyWith, status, submit } from '../helpers/cluster-api.ts';
import { readSse, startCluster, type SseEvent } from '../helpers/cluster-nodes.ts';
import { postgresUnavailable } from '../helpers/databases.ts';
import { startPrivatePostgres } from '../helpers/private-postgres.ts';
import { eventually, redisUnavailable } from '../helpers/redis.ts';

const skip = (await redisUnavailable()) ?? (await postgresUnavailable());

test(
  'PostgreSQL stopped mid-job under worker and API nodes, then restarted: 503 while down; the job ends completed or refunded, the same worker takes the next job, balances = ledger',
  { skip, timeout: 300_000 },
  async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pictor-worker-pg-'));
    const server = await startPrivatePostgres(dir);
    if (typeof server === 'string') return t.skip(server);
    t.after(() => server.stop());
    const c = await startCluster(t, { serverUrl: server.url });
    const a = await c.api();
    // 40 steps of 150 ms: the job is mid-run when the database goes.
    const worker = await c.worker({ PICTOR_WORKERS__FAKE_STEP_MS: '150' });
    const key = await keyWith(a, 10);
    const first = await eventually(async () => {
      const s = await submit(a, key, 40);
      return s.status === 202 ? s : undefined;
    }, 60_000);
    await status(a, key, first.id, ['running']);
    // Followed through the stop (events come from Redis, which stays up).
    const seen: SseEvent[] = [];
    const stream = readSse(
      `${a.url}/v1/jobs/${first.id}/events`,
      { authorization: `Bearer ${key}` },
      (event) => seen.push(event),
      AbortSignal.timeout(240_000),
    );
    // What the worker node says (warnings and errors): how the test knows it met the outage.
    let said = '';
    const heard = (pattern: RegExp): Promise<void> =>
      new Promise((resolve) => {
        const check = (chunk?: Buffer): void => {
          if (chunk) said += chunk.toString();
          if (!pattern.test(said)) return;
          worker.stdout?.off('data', check);
          resolve();
        };
        worker.stdout?.on('data', check);
        check();
      });

    await server.stop();
    const down = await submit(a, key);
    assert.equal(down.status, 503, JSON.stringify(down.json));
    assert.match(String(down.json['type']), /problems\/database-unavailable/);
    assert.equal((await fetch(`${a.url}/v1/health/ready`)).status, 503);
    // The run ends while the database is down: its result cannot be recorded.
    await heard(new RegExp(`${first.id}.*ECONNREFUSED|ECONNREFUSED.*${first.id}`));
    await server.restart();

    const ended = await status(a, key, first.id, ['completed', 'failed'], 180_000);
    // The worker node rode it out: the same process takes the next job.
    const next = await eventually(async () => {
      const s = await submit(a, key);
      return s.status === 202 ? s : undefined;
    }, 60_000);
    assert.equal(await status(a, key, next.id, ['completed', 'failed'], 120_000), 'completed');
    assert.equal(worker.exitCode, null, 'the worker node is still running');
    assert.equal(worker.signalCode, null);
    const job = await call(a, 'GET', `/v1/jobs/${first.id}`, key);
    assert.equal(job.json['status'], ended);
    assert.equal(await stream, 'final');
    const finals = seen.filter((e) =>
      ['completed', 'failed', 'cancelled', 'expired'].includes(e.type),
    );
    assert.deepEqual(
      finals.map((e) => e.type),
      [ended],
      'one final event',
    );
    assert.equal(seen.at(-1)?.type, ended, 'last');
    await assertSettled(c);
  },
);
