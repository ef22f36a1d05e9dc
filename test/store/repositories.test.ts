import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeJob } from '../helpers/jobs.ts';
import { KyselyJobRepository, KyselyUploadRepository } from '../../src/store/index.ts';
import { dialects, type TestDatabase } from '../helpers/databases.ts';

for (const dialect of await dialects()) {
  describe(`repositories on ${dialect.name}`, { skip: dialect.skip }, () => {
    let t: TestDatabase;
    before(async () => {
      t = await dialect.open();
    });
    after(async () => {
      await t.cleanup();
    });

    test('a job round-trips with every field', async () => {
      const jobs = new KyselyJobRepository(t.db);
      const job = makeJob({
        webhookUrl: 'https://example.com/hook',
        priority: 5,
        creditsUsed: 1.5,
      });
      await jobs.insert(job);
      assert.deepEqual(await jobs.get(job.id), job);
      assert.equal(await jobs.get('missing'), undefined);
    });

    test('claim starts a queued job once, counting the attempt, and returns it', async () => {
      const jobs = new KyselyJobRepository(t.db);
      const job = makeJob({ attempts: 1 });
      await jobs.insert(job);
      const claimed = await jobs.claim(job.id, 1234);
      assert.deepEqual(claimed, { ...job, status: 'running', startedAt: 1234, attempts: 2 });
      assert.deepEqual(await jobs.get(job.id), claimed);
      assert.equal(await jobs.claim(job.id, 5678), undefined, 'a running job is not claimed');
      const cancelled = makeJob({ status: 'cancelled' });
      await jobs.insert(cancelled);
      assert.equal(await jobs.claim(cancelled.id, 1), undefined);
      assert.equal(await jobs.claim('missing', 1), undefined);
    });

    test('transition applies only from the expected states', async () => {
      const jobs = new KyselyJobRepository(t.db);
      const job = makeJob();
      await jobs.insert(job);
      assert.equal(
        await jobs.transition(job.id, ['queued'], { status: 'running', startedAt: 5, attempts: 1 }),
        true,
      );
      assert.equal(await jobs.transition(job.id, ['queued'], { status: 'cancelled' }), false);
      const result = {
        images: [{ key: 'k', seed: 42, mimeType: 'image/png', width: 64, height: 64, nsfw: false }],
        warnings: ['w'],
        generationTime: 0.25,
      };
      assert.equal(
        await jobs.transition(job.id, ['running'], {
          status: 'completed',
          result,
          finishedAt: 9,
          resultExpiresAt: 100,
        }),
        true,
      );
      const stored = await jobs.get(job.id);
      assert.equal(stored?.status, 'completed');
      assert.deepEqual(stored?.result, result);
      assert.equal(stored?.attempts, 1);
      assert.equal(stored?.startedAt, 5);
      await jobs.update(job.id, { error: { code: 'X', message: 'boom' } });
      assert.deepEqual((await jobs.get(job.id))?.error, { code: 'X', message: 'boom' });
    });

    test('transition with an attempt applies only while the job is at that attempt (fencing a lost run)', async () => {
      const jobs = new KyselyJobRepository(t.db);
      const job = makeJob({ status: 'running', attempts: 2 });
      await jobs.insert(job);
      const done = { status: 'completed' as const, finishedAt: 9 };
      assert.equal(await jobs.transition(job.id, ['running'], done, 1), false, 'a stale run');
      assert.equal((await jobs.get(job.id))?.status, 'running');
      assert.equal(await jobs.transition(job.id, ['running'], done, 2), true);
      assert.equal((await jobs.get(job.id))?.status, 'completed');
    });

    test('listByOwner pages newest first with a cursor', async () => {
      const jobs = new KyselyJobRepository(t.db);
      const owner = `owner-${Math.random()}`;
      const created = [];
      for (let i = 0; i < 5; i++) {
        const job = makeJob({ owner, createdAt: 1000 + i });
        created.push(job);
        await jobs.insert(job);
      }
      await jobs.insert(makeJob({ owner: 'someone-else' }));
      const first = await jobs.listByOwner(owner, { limit: 2 });
      assert.deepEqual(
        first.map((j) => j.createdAt),
        [1004, 1003],
      );
      const last = first.at(-1);
      assert.ok(last);
      const second = await jobs.listByOwner(owner, { limit: 10, before: last });
      assert.deepEqual(
        second.map((j) => j.createdAt),
        [1002, 1001, 1000],
      );
    });

    test('listByStatus, listExpiredResults and countByStatus', async () => {
      const jobs = new KyselyJobRepository(t.db);
      const a = makeJob({ status: 'running', createdAt: 1 });
      const b = makeJob({ status: 'completed', resultExpiresAt: 50 });
      const c = makeJob({ status: 'completed', resultExpiresAt: 500 });
      for (const j of [a, b, c]) await jobs.insert(j);
      const running = await jobs.listByStatus(['running']);
      assert.ok(running.some((j) => j.id === a.id));
      assert.deepEqual(await jobs.listByStatus([]), []);
      const expired = await jobs.listExpiredResults(100, 10);
      assert.ok(expired.some((j) => j.id === b.id));
      assert.ok(!expired.some((j) => j.id === c.id));
      await jobs.update(b.id, { resultDeleted: true });
      assert.ok(!(await jobs.listExpiredResults(100, 10)).some((j) => j.id === b.id));
      const counts = await jobs.countByStatus();
      assert.ok((counts.completed ?? 0) >= 2);
      assert.ok((counts.running ?? 0) >= 1);
    });

    test('uploads insert, get, expire and delete', async () => {
      const uploads = new KyselyUploadRepository(t.db);
      const upload = {
        id: 'up1',
        owner: 'local',
        key: 'uploads/up1',
        mimeType: 'image/png',
        size: 10,
        createdAt: 1,
        expiresAt: 10,
      };
      await uploads.insert(upload);
      assert.deepEqual(await uploads.get('up1'), upload);
      assert.deepEqual(await uploads.listExpired(11, 5), [upload]);
      assert.equal(await uploads.storedBytes(upload.owner, 9), upload.size);
      assert.equal(await uploads.storedBytes(upload.owner, 11), 0, 'expired uploads do not count');
      assert.equal(await uploads.storedBytes('someone-else', 9), 0);
      assert.deepEqual(await uploads.listExpired(9, 5), []);
      await uploads.delete('up1');
      assert.equal(await uploads.get('up1'), undefined);
    });

    test('uploads within a quota: 40 racing inserts of 10 bytes under a quota of 30 store exactly 3', async () => {
      const uploads = new KyselyUploadRepository(t.db);
      const owner = `quota-${Math.random().toString(36).slice(2)}`;
      const upload = (i: number) => ({
        id: `${owner}-${i}`,
        owner,
        key: `uploads/${owner}-${i}`,
        mimeType: 'image/png',
        size: 10,
        createdAt: 100,
        expiresAt: 1000,
      });
      // Every pooled connection open first, so the inserts really run side by side.
      await Promise.all(Array.from({ length: 10 }, () => uploads.storedBytes(owner, 0)));
      const outcomes = await Promise.all(
        Array.from({ length: 40 }, (_, i) => uploads.insertWithinQuota(upload(i), 30)),
      );
      assert.equal(outcomes.filter((o) => o.inserted).length, 3);
      assert.equal(await uploads.storedBytes(owner, 100), 30);
      const refused = outcomes.find((o) => !o.inserted);
      assert.equal(refused?.heldBytes, 30);
      // What has expired by the new upload's time no longer counts.
      const later = { ...upload(40), createdAt: 1001, expiresAt: 2000 };
      assert.deepEqual(await uploads.insertWithinQuota(later, 30), {
        inserted: true,
        heldBytes: 0,
      });
    });
  });
}
