import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { toProblemError } from '../../src/api/problem-handler.ts';
import { openDatabase } from '../../src/store/open-database.ts';
import { dialects, POSTGRES_URL } from '../helpers/databases.ts';
import { startAuthServer, waitFor, type AuthServer } from '../accounts/helpers.ts';

const postgres = (await dialects()).find((d) => d.name === 'postgres');
const applicationName = `pictor_drop_${process.pid}`;

/** Ends every connection the server under test holds (and only those), as a failover would. */
async function terminateServerConnections(name = applicationName): Promise<number> {
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ ended: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = $1',
      [name],
    );
    return rows.length;
  } finally {
    await admin.end();
  }
}

describe('PostgreSQL connections dropped under a running server', { skip: postgres?.skip }, () => {
  let s: AuthServer;
  before(async () => {
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('application_name', applicationName);
    s = await startAuthServer('postgres', { PICTOR_DATABASE__URL: url.toString() });
  });
  after(async () => {
    await s.stop();
  });

  test('the process survives, requests meanwhile get 200 or 503 problem+json, then all work', async () => {
    const { key } = await s.createKey({ name: 'drop', credits: 50 });
    const balance = () => s.request('GET', '/v1/account/balance', { key });
    assert.equal((await balance()).status, 200);
    for (let round = 0; round < 3; round++) {
      const during = balance();
      const ended = await terminateServerConnections();
      assert.ok(ended > 0, 'the server had connections to end');
      const res = await during;
      assert.ok([200, 503].includes(res.status), `during the drop: ${res.status}`);
      if (res.status === 503) {
        assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
        assert.equal(((await res.json()) as { code: string }).code, 'DATABASE_UNAVAILABLE');
      }
      // The pool reconnects on its own: a later request succeeds.
      await waitFor(async () => ((await balance()).status === 200 ? true : undefined), 10_000);
    }
    const job = await s.request('POST', '/v1/generate', {
      key,
      body: { prompt: 'after', steps: 1 },
    });
    assert.equal(job.status, 200);
  });
});

test(
  'a connection ended while a transaction holds it (between two queries) fails that transaction, not the process',
  {
    skip: postgres?.skip,
  },
  async () => {
    const name = `pictor_held_${process.pid}`;
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('application_name', name);
    const db = await openDatabase({
      driver: 'postgres',
      url: url.toString(),
      schema: `t_held_${process.pid}`,
    });
    try {
      // Without a listener on the checked-out client, pg's 'error' event would be uncaught here,
      // and the test runner reports an uncaught error against the test that caused it.
      const held = db.transaction().execute(async (trx) => {
        await sql`SELECT 1`.execute(trx);
        assert.ok((await terminateServerConnections(name)) > 0);
        // Wait for the client to learn of the end (its socket closes), then use it again.
        await new Promise((resolve) => setTimeout(resolve, 0));
        for (let i = 0; i < 100; i++) {
          const alive = await sql`SELECT 1`.execute(trx).then(
            () => true,
            () => false,
          );
          if (!alive) return 'ended';
          await new Promise((resolve) => setImmediate(resolve));
        }
        return 'never ended';
      });
      await assert.rejects(held);
      // The pool opens a fresh connection for the next caller.
      const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(db);
      assert.equal(rows[0]?.one, 1);
    } finally {
      await db.destroy();
    }
  },
);

test('a dropped-connection error from the driver maps to 503 DATABASE_UNAVAILABLE, a query error does not', () => {
  const dropped = Object.assign(new Error('terminating connection due to administrator command'), {
    code: '57P01',
  });
  const problem = toProblemError(dropped);
  assert.equal(problem.status, 503);
  assert.equal(problem.code, 'DATABASE_UNAVAILABLE');
  assert.equal(toProblemError(new Error('Connection terminated unexpectedly')).status, 503);
  const syntax = Object.assign(new Error('syntax error'), { code: '42601' });
  assert.equal(toProblemError(syntax).code, 'INTERNAL');
});
