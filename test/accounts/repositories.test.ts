import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { ApiKey } from '../../src/accounts/api-key.ts';
import { AccountLedger } from '../../src/accounts/account-ledger.ts';
import type { Job } from '../../src/jobs/job.ts';
import { DatabaseBackups } from '../../src/store/database-backups.ts';
import { IdempotentSubmissions, STALE_CLAIM_MS } from '../../src/jobs/idempotent-submissions.ts';
import {
  KyselyCreditStore,
  KyselyIdempotencyStore,
  KyselyJobRepository,
  KyselyKeyRepository,
  KyselyUsageAnalytics,
  KyselyUserRepository,
} from '../../src/store/index.ts';
import { dialects, type TestDatabase } from '../helpers/databases.ts';
import { makeJob as makeQueuedJob } from '../helpers/jobs.ts';

let n = 0;
function makeKey(overrides: Partial<ApiKey> = {}): ApiKey {
  n++;
  return {
    id: `key_${process.pid}_${n}_${Math.random().toString(36).slice(2, 8)}`,
    name: `key ${n}`,
    prefix: 'sk_abcdef',
    scopes: ['generate'],
    credits: 0,
    rateLimit: 60,
    maxJobs: 4,
    expiresAt: null,
    active: true,
    priority: 0,
    userId: null,
    createdAt: Date.now() + n,
    ...overrides,
  };
}

function makeJob(owner: string, overrides: Partial<Job> = {}): Job {
  return makeQueuedJob({ owner, batchKey: 'b', ...overrides });
}

for (const dialect of await dialects()) {
  describe(`account repositories on ${dialect.name}`, { skip: dialect.skip }, () => {
    let t: TestDatabase;
    let keys: KyselyKeyRepository;
    let credits: KyselyCreditStore;
    before(async () => {
      t = await dialect.open();
      keys = new KyselyKeyRepository(t.db);
      credits = new KyselyCreditStore(t.db);
    });
    after(async () => {
      await t.cleanup();
    });

    async function keyWith(amount: number, overrides: Partial<ApiKey> = {}): Promise<ApiKey> {
      const key = makeKey({ credits: amount, ...overrides });
      await keys.create(key, `hash-${key.id}`, 'initial credits');
      return key;
    }

    test('a key round-trips, is found by hash, listed, updated and counted', async () => {
      const key = await keyWith(7, { scopes: ['generate', 'admin'], expiresAt: 123, userId: 'u1' });
      assert.deepEqual(await keys.get(key.id), key);
      assert.deepEqual(await keys.getByHash(`hash-${key.id}`), key);
      assert.equal(await keys.getByHash('nope'), undefined);
      assert.deepEqual(await keys.list({ limit: 10, userId: 'u1' }), [key]);
      const updated = await keys.update(key.id, {
        name: 'renamed',
        rateLimit: 0,
        maxJobs: 9,
        expiresAt: null,
        active: false,
        priority: 2,
        scopes: ['generate'],
      });
      assert.deepEqual(updated, {
        ...key,
        name: 'renamed',
        rateLimit: 0,
        maxJobs: 9,
        expiresAt: null,
        active: false,
        priority: 2,
        scopes: ['generate'],
      });
      assert.equal(await keys.update('missing', { name: 'x' }), undefined);
      assert.equal(await keys.count({ userId: 'u1' }), 1);
      assert.equal(await keys.count({ userId: 'u1', activeOnly: true }), 0);
      // The initial credits are a grant in the ledger.
      assert.deepEqual(
        (await credits.entries(key.id, 10)).map((e) => [e.kind, e.amount, e.balanceAfter]),
        [['grant', 7, 7]],
      );
    });

    test('50 concurrent charges on 3 credits: exactly 3 succeed, balance 0, ledger sums to it', async () => {
      const key = await keyWith(3);
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, (_, i) => credits.charge(key.id, `race-${key.id}-${i}`, 1, 'r')),
      );
      assert.equal(outcomes.filter((o) => o.ok).length, 3);
      assert.ok(outcomes.filter((o) => !o.ok).every((o) => o.balance === 0));
      assert.equal(await credits.balance(key.id), 0);
      assert.equal(await credits.sum(key.id), 0);
    });

    test('a job is charged at most once and refunded at most once, even concurrently', async () => {
      const key = await keyWith(10);
      const jobId = `once-${key.id}`;
      const charges = await Promise.all(
        Array.from({ length: 5 }, () => credits.charge(key.id, jobId, 2, 'c')),
      );
      assert.ok(charges.every((c) => c.ok && c.amount === 2));
      assert.equal(await credits.balance(key.id), 8);
      const refunds = await Promise.all(
        Array.from({ length: 5 }, () => credits.refund(jobId, 'failed')),
      );
      assert.equal(refunds.filter((r) => r !== undefined).length, 1);
      assert.deepEqual(
        refunds.find((r) => r),
        { amount: 2, balance: 10 },
      );
      assert.equal(await credits.balance(key.id), 10);
      assert.equal(await credits.sum(key.id), 10);
      assert.equal(await credits.refund('never-charged', 'x'), undefined);
      assert.equal((await credits.entryOf(jobId, 'refund'))?.amount, 2);
    });

    test('the database itself refuses a negative balance and a second charge row', async () => {
      const key = await keyWith(1);
      await assert.rejects(
        sql`update api_keys set credits = -1 where id = ${key.id}`.execute(t.db),
        /check|constraint/i,
      );
      await credits.charge(key.id, `dup-${key.id}`, 1, 'c');
      await assert.rejects(
        t.db
          .insertInto('credit_ledger')
          .values({
            id: `x-${key.id}`,
            key_id: key.id,
            kind: 'charge',
            amount: -1,
            balance_after: 0,
            reason: 'forged',
            job_id: `dup-${key.id}`,
            created_at: 0,
          })
          .execute(),
        /unique|duplicate/i,
      );
    });

    test('grants and adjustments never take a balance below zero', async () => {
      const key = await keyWith(0);
      assert.deepEqual(await credits.adjust(key.id, 5, 'grant', 'topup'), { ok: true, balance: 5 });
      assert.deepEqual(await credits.adjust(key.id, -6, 'adjustment', 'x'), {
        ok: false,
        reason: 'negative',
        balance: 5,
      });
      assert.deepEqual(await credits.adjust(key.id, -5, 'adjustment', 'x'), {
        ok: true,
        balance: 0,
      });
      assert.deepEqual(await credits.adjust('missing', 1, 'grant', 'x'), {
        ok: false,
        reason: 'no-key',
        balance: 0,
      });
      assert.equal(await credits.sum(key.id), 0);
    });

    test('reconcile refunds charges of missing or failed jobs, once; completed ones stay charged', async () => {
      const key = await keyWith(10);
      const jobs = new KyselyJobRepository(t.db);
      const ledger = new AccountLedger(keys, credits, { costOf: (j) => j.params.n });
      const done = makeJob(key.id, { status: 'completed' });
      const failed = makeJob(key.id, { status: 'failed' });
      const queued = makeJob(key.id);
      for (const job of [done, failed, queued]) {
        await ledger.charge(job);
        await jobs.insert(job);
      }
      const orphan = makeJob(key.id); // charged, then the process died before the insert
      await ledger.charge(orphan);
      assert.equal(await credits.balance(key.id), 6);
      const refunded = await ledger.reconcile();
      assert.deepEqual(
        refunded.filter((id) => id.startsWith('job-')).sort(),
        [failed.id, orphan.id].sort(),
      );
      assert.equal(await credits.balance(key.id), 8);
      assert.deepEqual(
        (await ledger.reconcile()).filter((id) => [failed.id, orphan.id].includes(id)),
        [],
      );
      assert.equal(await credits.sum(key.id), 8);
    });

    test('the job ledger: 402 naming balance and cost; admin keys and the key-less link are free', async () => {
      const key = await keyWith(2);
      const admin = await keyWith(0, { scopes: ['generate', 'admin'] });
      const ledger = new AccountLedger(keys, credits, { costOf: (j) => 2 * j.params.n });
      const big = makeJob(key.id, { params: { ...makeJob('x').params, n: 2 } });
      await assert.rejects(
        ledger.charge(big),
        (e: Error & { code?: string; extensions?: object }) => {
          assert.equal(e.code, 'INSUFFICIENT_CREDITS');
          assert.deepEqual(e.extensions, { balance: 2, cost: 4 });
          assert.match(e.message, /costs 4 credits but the key has 2 credits/);
          return true;
        },
      );
      assert.deepEqual(await ledger.charge(makeJob(key.id)), {
        creditsUsed: 2,
        creditsRemaining: 0,
      });
      assert.deepEqual(await ledger.charge(makeJob(admin.id)), {
        creditsUsed: 0,
        creditsRemaining: null,
      });
      assert.deepEqual(await ledger.charge(makeJob('anonymous')), {
        creditsUsed: null,
        creditsRemaining: null,
      });
      assert.equal(await ledger.balance(key.id), 0);
      assert.equal(await ledger.balance(admin.id), null);
    });

    test('idempotency keys: one holder per (owner, key) within the window', async () => {
      const store = new KyselyIdempotencyStore(t.db);
      const rec = {
        owner: 'o',
        key: `k-${Math.random()}`,
        fingerprint: 'f',
        jobId: 'j1',
        createdAt: 1000,
      };
      assert.equal(await store.claim(rec, 0), undefined);
      assert.deepEqual(await store.claim({ ...rec, jobId: 'j2' }, 0), rec);
      assert.deepEqual(await store.find('o', rec.key, 0), rec);
      assert.equal(await store.find('other', rec.key, 0), undefined);
      assert.equal(await store.find('o', rec.key, 2000), undefined, 'older than the window');
      // A stale record no longer holds the key.
      assert.equal(await store.claim({ ...rec, jobId: 'j3', createdAt: 5000 }, 2000), undefined);
      assert.equal((await store.find('o', rec.key, 0))?.jobId, 'j3');
      await store.release('o', rec.key, 'j1');
      assert.equal((await store.find('o', rec.key, 0))?.jobId, 'j3', 'only its own claim');
      await store.release('o', rec.key, 'j3');
      assert.equal(await store.find('o', rec.key, 0), undefined);
      await store.claim({ ...rec, key: `old-${Math.random()}`, createdAt: 1 }, 0);
      assert.ok((await store.purge(2)) >= 1);
    });

    test('a stale idempotency claim (its process died before storing the job) frees the key', async () => {
      const store = new KyselyIdempotencyStore(t.db);
      const jobs = new KyselyJobRepository(t.db);
      const submissions = new IdempotentSubmissions(store, jobs);
      const idem = { key: `crash-${Math.random()}`, fingerprint: 'f' };
      const stored = makeJob('o');
      await jobs.insert(stored);
      // A claim for a job that was never stored, from a process that died long enough ago.
      await store.claim(
        { owner: 'o', ...idem, jobId: 'never-stored', createdAt: Date.now() - STALE_CLAIM_MS - 1 },
        0,
      );
      const outcome = await submissions.run(
        'o',
        { ...idem, fingerprint: 'other body' },
        async () => {
          assert.equal(
            await submissions.claim('o', { ...idem, fingerprint: 'other body' }, stored.id),
            undefined,
          );
          return 'submitted';
        },
        () => Promise.resolve('replayed'),
      );
      assert.equal(outcome, 'submitted');
      const replay = await submissions.run(
        'o',
        { ...idem, fingerprint: 'other body' },
        () => Promise.resolve('submitted'),
        (job) => Promise.resolve(job.id),
      );
      assert.equal(replay, stored.id);
      await assert.rejects(
        submissions.run(
          'o',
          idem,
          () => Promise.resolve('x'),
          () => Promise.resolve('y'),
        ),
        /different request/,
      );
    });

    test('users and sessions', async () => {
      const users = new KyselyUserRepository(t.db);
      const user = {
        id: `usr_${Math.random()}`,
        username: `u${Math.random()}`,
        passwordHash: 'h',
        createdAt: 1,
      };
      assert.equal(await users.create(user), true);
      assert.equal(await users.create({ ...user, id: 'other' }), false);
      assert.deepEqual(await users.getByUsername(user.username), user);
      assert.deepEqual(await users.get(user.id), user);
      const session = {
        tokenHash: `t${Math.random()}`,
        userId: user.id,
        expiresAt: 100,
        createdAt: 1,
      };
      await users.createSession(session);
      assert.deepEqual(await users.getSession(session.tokenHash, 99), session);
      assert.equal(await users.getSession(session.tokenHash, 100), undefined);
      assert.ok((await users.purgeSessions(101)) >= 1);
      await users.deleteSession('none');
    });

    test('analytics: per key, model and UTC day', async () => {
      const jobs = new KyselyJobRepository(t.db);
      const owner = `an-${Math.random()}`;
      const day = Date.UTC(2030, 4, 6, 12);
      const result = (s: number) => ({ images: [], warnings: [], generationTime: s });
      const params = makeJob('x').params;
      await jobs.insert(
        makeJob(owner, {
          createdAt: day,
          status: 'completed',
          creditsUsed: 2,
          result: result(1),
          params: { ...params, n: 2 },
        }),
      );
      await jobs.insert(
        makeJob(owner, {
          createdAt: day + 1,
          status: 'completed',
          creditsUsed: 1,
          result: result(3),
        }),
      );
      await jobs.insert(makeJob(owner, { createdAt: day + 2, status: 'failed', creditsUsed: 1 }));
      await jobs.insert(
        makeJob(owner, {
          createdAt: day + 3,
          model: 'sdxl',
          status: 'completed',
          creditsUsed: 4,
          result: result(5),
        }),
      );
      await jobs.insert(
        makeJob(owner, { createdAt: day + 86_400_000, status: 'queued', creditsUsed: 1 }),
      );
      const rows = await new KyselyUsageAnalytics(t.db).usage({
        from: day - 1,
        to: day + 2 * 86_400_000,
        keyId: owner,
      });
      assert.deepEqual(rows, [
        {
          keyId: owner,
          model: 'sdxl',
          day: '2030-05-06',
          jobs: 1,
          images: 1,
          credits: 4,
          failures: 0,
          meanGenerationTime: 5,
        },
        {
          keyId: owner,
          model: 'tiny',
          day: '2030-05-06',
          jobs: 3,
          images: 3,
          credits: 3,
          failures: 1,
          meanGenerationTime: 2,
        },
        {
          keyId: owner,
          model: 'tiny',
          day: '2030-05-07',
          jobs: 1,
          images: 0,
          credits: 1,
          failures: 0,
          meanGenerationTime: null,
        },
      ]);
      const onlySdxl = await new KyselyUsageAnalytics(t.db).usage({
        from: day - 1,
        to: day + 1e9,
        model: 'sdxl',
        keyId: owner,
      });
      assert.equal(onlySdxl.length, 1);
    });

    test('backups: a consistent online copy, listed, restored, cleaned up', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'pictor-backups-'));
      const backups = new DatabaseBackups(
        t.db,
        { driver: t.driver, url: t.url, schema: t.schema },
        dir,
      );
      const key = await keyWith(5);
      const first = await backups.create();
      assert.match(first.name, t.driver === 'sqlite' ? /^pictor-.*\.db$/ : /^pictor-.*\.dump$/);
      assert.ok(first.size > 0);
      writeFileSync(path.join(dir, 'unrelated.txt'), 'x');
      assert.deepEqual(
        (await backups.list()).map((b) => b.name),
        [first.name],
      );
      await credits.adjust(key.id, 10, 'grant', 'after the backup');
      assert.equal(await credits.balance(key.id), 15);
      const { saved } = await backups.restore(first.name);
      assert.equal(await credits.balance(key.id), 5, 'the restored data is live');
      assert.match(saved.name, /^pictor-before-restore-/);
      assert.equal((await backups.list()).length, 2);
      assert.deepEqual(await backups.cleanup(1), []);
      assert.equal((await backups.cleanup(0, Date.now() + 1000)).length, 2);
      assert.equal(existsSync(path.join(dir, first.name)), false);
      await assert.rejects(backups.restore('nope.db'), /no backup/);
    });

    test('PostgreSQL without pg_dump: a clear BACKUP_UNAVAILABLE, nothing written', async (ctx) => {
      if (t.driver !== 'postgres') return ctx.skip('SQLite needs no tool');
      const dir = mkdtempSync(path.join(tmpdir(), 'pictor-backups-'));
      const backups = new DatabaseBackups(
        t.db,
        { driver: t.driver, url: t.url, schema: t.schema },
        dir,
      );
      const saved = process.env['PATH'];
      process.env['PATH'] = '/nonexistent';
      try {
        await assert.rejects(backups.create(), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'BACKUP_UNAVAILABLE');
          assert.match(e.message, /pg_dump, which is not on the PATH/);
          return true;
        });
      } finally {
        process.env['PATH'] = saved;
      }
      assert.deepEqual(await backups.list(), []);
    });
  });
}
