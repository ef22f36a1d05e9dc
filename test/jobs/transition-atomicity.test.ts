// A job's transition, its refund and its webhook outbox row are one transaction, on SQLite and
// PostgreSQL: a failure of any of them leaves all three unwritten (the job keeps its state), and
// a second try after the fault writes each exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { AccountLedger } from '../../src/accounts/account-ledger.ts';
import { EventHub } from '../../src/jobs/event-hub.ts';
import { InProcessJobQueue } from '../../src/jobs/in-process/in-process-job-queue.ts';
import { JobLifecycle } from '../../src/jobs/job-lifecycle.ts';
import type { Job } from '../../src/jobs/job.ts';
import {
  KyselyCreditStore,
  KyselyJobRepository,
  KyselyKeyRepository,
  KyselyTransitionStore,
  KyselyWebhookOutbox,
  type Database,
} from '../../src/store/index.ts';
import { dialects, type TestDatabase } from '../helpers/databases.ts';
import { makeJob } from '../helpers/jobs.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Makes every insert into `table` fail, as a full disk or a dropped connection would. */
async function refuseInserts(t: TestDatabase, table: string): Promise<void> {
  if (t.driver === 'sqlite') {
    await sql
      .raw(
        `CREATE TRIGGER refuse_${table} BEFORE INSERT ON ${table} BEGIN SELECT RAISE(ABORT, 'refused by test'); END`,
      )
      .execute(t.db);
    return;
  }
  await sql
    .raw(
      `CREATE OR REPLACE FUNCTION refuse_insert() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$ LANGUAGE plpgsql`,
    )
    .execute(t.db);
  await sql
    .raw(
      `CREATE TRIGGER refuse_${table} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION refuse_insert()`,
    )
    .execute(t.db);
}

async function allowInserts(t: TestDatabase, table: string): Promise<void> {
  const on = t.driver === 'postgres' ? ` ON ${table}` : '';
  await sql.raw(`DROP TRIGGER refuse_${table}${on}`).execute(t.db);
}

for (const dialect of await dialects()) {
  describe(`job transitions are atomic on ${dialect.name}`, { skip: dialect.skip }, () => {
    let t: TestDatabase;
    before(async () => {
      t = await dialect.open();
    });
    after(async () => {
      await t.cleanup();
    });

    function parts(db: Kysely<Database>) {
      const costOf = (job: Job): number => job.params.n;
      const ledgerOn = (trx: Kysely<Database>) =>
        new AccountLedger(new KyselyKeyRepository(trx), new KyselyCreditStore(trx), { costOf });
      const transitions = new KyselyTransitionStore(db, (trx) => ({
        jobs: new KyselyJobRepository(trx),
        ledger: ledgerOn(trx),
        outbox: {
          async record(job) {
            if (!job.webhookUrl) return;
            await new KyselyWebhookOutbox(trx).add({
              id: `msg_${job.id}_${job.status}`,
              jobId: job.id,
              url: job.webhookUrl,
              eventType: `job.${job.status}`,
              payload: '{}',
              attempts: 0,
              nextAttemptAt: 0,
              status: 'pending',
              lastError: null,
              createdAt: Date.now(),
              claimedBy: null,
            });
          },
        },
      }));
      const events = new EventHub();
      const lifecycle = new JobLifecycle({
        transitions,
        queue: new InProcessJobQueue(),
        events,
        logger: silent,
        imageUrl: (id, index) => `http://x/v1/jobs/${id}/image?index=${index}`,
        jobUrl: (id) => `http://x/v1/jobs/${id}`,
      });
      return {
        lifecycle,
        events,
        ledger: ledgerOn(db),
        jobs: new KyselyJobRepository(db),
        credits: new KyselyCreditStore(db),
        outbox: new KyselyWebhookOutbox(db),
      };
    }

    /** A key with 5 credits and a running job of it charged 2 (with a webhook URL). */
    async function chargedRunningJob(p: ReturnType<typeof parts>) {
      const keyId = `key_${Math.random().toString(36).slice(2, 10)}`;
      await new KyselyKeyRepository(t.db).create(
        {
          id: keyId,
          name: keyId,
          prefix: 'sk_test',
          scopes: ['generate'],
          credits: 5,
          rateLimit: 0,
          maxJobs: 0,
          expiresAt: null,
          active: true,
          priority: 0,
          userId: null,
          createdAt: Date.now(),
        },
        `hash-${keyId}`,
        'test',
      );
      const queued = makeJob({ owner: keyId, webhookUrl: 'https://hook.example/x' });
      const job = { ...queued, params: { ...queued.params, n: 2 } };
      await p.ledger.charge(job);
      await p.jobs.insert(job);
      const running = await p.jobs.claim(job.id, Date.now());
      assert.ok(running);
      return { keyId, job: running };
    }

    for (const table of ['webhook_deliveries', 'credit_ledger']) {
      test(`a failing insert into ${table} rolls the whole transition back; the retry writes each part once`, async () => {
        const p = parts(t.db);
        const { keyId, job } = await chargedRunningJob(p);
        assert.equal(await p.credits.balance(keyId), 3);
        await refuseInserts(t, table);
        try {
          await assert.rejects(
            p.lifecycle.fail(job, { code: 'X', message: 'x' }, ['running']),
            /refused by test/,
          );
        } finally {
          await allowInserts(t, table);
        }
        assert.equal((await p.jobs.get(job.id))?.status, 'running', 'the job kept its state');
        assert.equal(await p.credits.balance(keyId), 3, 'no refund');
        assert.equal(await p.credits.entryOf(job.id, 'refund'), undefined);
        assert.deepEqual(await p.outbox.listByJob(job.id), [], 'no webhook row');
        assert.deepEqual(p.events.history(job.id), [], 'no final event for an end not stored');

        const failed = await p.lifecycle.fail(job, { code: 'X', message: 'x' }, ['running']);
        assert.equal(failed?.status, 'failed');
        assert.equal((await p.jobs.get(job.id))?.status, 'failed');
        assert.equal(await p.credits.balance(keyId), 5, 'refunded once');
        assert.equal(await p.credits.sum(keyId), 5, 'the ledger agrees with the balance');
        assert.deepEqual(
          (await p.outbox.listByJob(job.id)).map((d) => d.eventType),
          ['job.failed'],
        );
        assert.deepEqual(
          p.events.history(job.id).map((e) => e.type),
          ['failed'],
        );
      });
    }

    test('a job refunded outside the transition (reconciled at start) still ends: the refund is not repeated', async () => {
      const p = parts(t.db);
      const { keyId, job } = await chargedRunningJob(p);
      await p.ledger.refund(job, 'reconciled');
      const cancelled = await p.lifecycle.cancel(job);
      assert.equal(cancelled?.status, 'cancelled');
      assert.equal(await p.credits.balance(keyId), 5);
      assert.equal(await p.credits.sum(keyId), 5);
      assert.equal((await p.outbox.listByJob(job.id)).length, 1);
    });

    test('a completion writes no refund and one webhook row; a cancel after it changes nothing', async () => {
      const p = parts(t.db);
      const { keyId, job } = await chargedRunningJob(p);
      const result = { images: [], warnings: [], generationTime: 0.1 };
      assert.equal((await p.lifecycle.complete(job, result, 60_000))?.status, 'completed');
      assert.equal(await p.lifecycle.cancel(job), undefined);
      assert.equal(await p.credits.balance(keyId), 3);
      assert.deepEqual(
        (await p.outbox.listByJob(job.id)).map((d) => d.eventType),
        ['job.completed'],
      );
    });
  });
}
