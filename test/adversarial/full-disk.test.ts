import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { ADMIN_KEY, spawnServer, startAuthServer } from '../accounts/helpers.ts';
import { mountSmallDisk } from '../helpers/small-disk.ts';

// Issue 16 item 4: a full disk killed the server through the log-file writer, and uploads and
// generation answered 500 with an SQLite message. Here the data dir (database, results, uploads,
// log file) is a real 8 MB tmpfs, filled to the last byte.

function leftovers(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) =>
    name.endsWith('.tmp'),
  );
}

test(
  'a full disk: 507 problem+json on uploads and generation, nothing half-written, the server lives on',
  { timeout: 120_000 },
  async (t) => {
    const disk = await mountSmallDisk(8);
    if (typeof disk === 'string') return t.skip(disk);
    const server = await spawnServer(disk.dir, {
      PICTOR_AUTH__ENABLED: 'true',
      PICTOR_ADMIN_KEY: ADMIN_KEY,
      PICTOR_LOG__LEVEL: 'info',
    }).catch((error: unknown) => {
      disk.release();
      throw error;
    });
    const call = (method: string, route: string, key: string, body?: unknown) =>
      fetch(`${server.base}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    try {
      const created = await call('POST', '/v1/admin/keys', ADMIN_KEY, { name: 'disk', credits: 5 });
      const { key } = (await created.json()) as { key: string };
      const image = await sharp({
        create: { width: 64, height: 64, channels: 3, background: '#3366aa' },
      })
        .png()
        .toBuffer();
      const upload = () =>
        fetch(`${server.base}/v1/uploads`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'image/png' },
          body: image,
        });

      const filler = disk.fill();
      for (let i = 0; i < 3; i++) {
        const refused = await upload();
        assert.equal(refused.status, 507);
        assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.equal(((await refused.json()) as { code: string }).code, 'INSUFFICIENT_STORAGE');
      }
      const generated = await call('POST', '/v1/generate', key, { prompt: 'a disk', steps: 2 });
      assert.equal(generated.status, 507, await generated.clone().text());
      assert.equal(((await generated.json()) as { code: string }).code, 'INSUFFICIENT_STORAGE');
      // Many requests, each logged to the full disk: the logging thread must not take us down.
      for (let i = 0; i < 50; i++) assert.equal((await call('GET', '/v1/queue', key)).status, 200);
      assert.equal(server.child.exitCode, null, 'the server is still running');
      assert.equal((await fetch(`${server.base}/v1/health/live`)).status, 200);
      assert.deepEqual(leftovers(disk.dir), [], 'no .tmp files left behind');
      const balance = (await (await call('GET', '/v1/account/balance', key)).json()) as {
        credits: number;
      };
      assert.equal(balance.credits, 5, 'the refused generation cost nothing');

      filler.free();
      assert.equal((await upload()).status, 201, 'uploads work again once space is freed');
      const after = await call('POST', '/v1/generate', key, { prompt: 'a disk', steps: 2 });
      assert.equal(after.status, 200, await after.clone().text());
      assert.match(server.output(), /cannot write the log file \(ENOSPC\)/);
    } finally {
      server.child.kill('SIGTERM');
      const stopped = await Promise.race([
        server.exited.then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 20_000).unref()),
      ]);
      if (!stopped) server.child.kill('SIGKILL');
      disk.release();
    }
  },
);

test(
  'results that no longer fit: the job fails with INSUFFICIENT_STORAGE (507), is refunded, leaves nothing',
  { timeout: 60_000 },
  async (t) => {
    const resultsDisk = await mountSmallDisk(8);
    if (typeof resultsDisk === 'string') return t.skip(resultsDisk);
    // The database elsewhere, so the job is accepted and only its result meets the full disk.
    const database = path.join(mkdtempSync(path.join(tmpdir(), 'pictor-db-')), 'pictor.db');
    const s = await startAuthServer('sqlite', {
      PICTOR_DATA_DIR: path.join(resultsDisk.dir, 'data'),
      PICTOR_DATABASE__URL: database,
    });
    try {
      const { key } = await s.createKey({ name: 'results', credits: 5 });
      const filler = resultsDisk.fill();
      const waited = await s.request('POST', '/v1/generate', {
        key,
        body: { prompt: 'x', steps: 2 },
      });
      assert.equal(waited.status, 507, await waited.clone().text());
      const problem = (await waited.json()) as { code: string; error_code: string; job_id: string };
      assert.equal(problem.code, 'INSUFFICIENT_STORAGE');
      const job = (await (
        await s.request('GET', `/v1/jobs/${problem.job_id}`, { key })
      ).json()) as {
        status: string;
        error: { code: string };
      };
      assert.equal(job.status, 'failed');
      assert.equal(job.error.code, 'INSUFFICIENT_STORAGE');
      const balance = (await (await s.request('GET', '/v1/account/balance', { key })).json()) as {
        credits: number;
      };
      assert.equal(balance.credits, 5, 'refunded');
      assert.deepEqual(leftovers(resultsDisk.dir), []);
      filler.free();
      const after = await s.request('POST', '/v1/generate', {
        key,
        body: { prompt: 'x', steps: 2 },
      });
      assert.equal(after.status, 200);
    } finally {
      await s.stop();
      resultsDisk.release();
    }
  },
);
