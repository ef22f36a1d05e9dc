// Issue 16 item 4 on PostgreSQL: a database whose disk is full answers SQLSTATE 53100
// (disk_full); the client must get 507 problem+json, nothing half-stored, and the server must
// carry on — and work again once space is freed. A real PostgreSQL of the test's own, on a real
// tmpfs filled to the last byte (the shared server is never touched).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import sharp from 'sharp';
import { ADMIN_KEY, newDataDir, spawnServer } from '../accounts/helpers.ts';
import { startPrivatePostgres } from '../helpers/private-postgres.ts';
import { mountSmallDisk } from '../helpers/small-disk.ts';

/** An incompressible PNG of about `kb` kilobytes. */
async function noisePng(kb: number): Promise<Buffer> {
  const side = Math.ceil(Math.sqrt((kb * 1024) / 3));
  const pixels = Buffer.alloc(side * side * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 2654435761) >>> 24;
  return sharp(pixels, { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

test(
  'PostgreSQL out of space (53100): 507 problem+json, nothing half-stored, the server carries on and recovers',
  { timeout: 180_000 },
  async (t) => {
    const disk = await mountSmallDisk(48);
    if (typeof disk === 'string') return t.skip(disk);
    const database = await startPrivatePostgres(disk.dir);
    // The server stops in the test's own `finally`, then (after it) its database, then the disk.
    t.after(async () => {
      if (typeof database !== 'string') await database.stop();
      disk.release();
    });
    if (typeof database === 'string') return t.skip(database);
    // Uploads go to the database's blob store, so they are what fills it.
    const server = await spawnServer(newDataDir(), {
      PICTOR_DATABASE__DRIVER: 'postgres',
      PICTOR_DATABASE__URL: database.url,
      PICTOR_STORAGE__BLOBS: 'postgres',
      PICTOR_AUTH__ENABLED: 'true',
      PICTOR_ADMIN_KEY: ADMIN_KEY,
    });
    const stopServer = async () => {
      server.child.kill('SIGKILL');
      await server.exited;
    };
    const client = new pg.Client({ connectionString: database.url });
    try {
      const created = await fetch(`${server.base}/v1/admin/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'uploader', credits: 10 }),
      });
      assert.equal(created.status, 201);
      const { key } = (await created.json()) as { key: string };
      const upload = (image: Buffer) =>
        fetch(`${server.base}/v1/uploads`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'image/png' },
          body: image,
        });
      const image = await noisePng(300);
      await client.connect();
      const uploadRows = async () =>
        Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM uploads')).rows[0]?.n);

      const filler = disk.fill();
      const refused = await upload(image);
      assert.equal(refused.status, 507, await refused.clone().text());
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const problem = (await refused.json()) as { code: string; detail: string };
      assert.equal(problem.code, 'INSUFFICIENT_STORAGE');
      assert.doesNotMatch(problem.detail, /extend file|base\//, 'no driver message');
      assert.equal(await uploadRows(), 0, 'no upload row without its bytes');
      assert.equal((await fetch(`${server.base}/v1/health/live`)).status, 200);

      filler.free();
      const stored = await upload(image);
      assert.equal(stored.status, 201, await stored.clone().text());
      assert.equal(await uploadRows(), 1);
      assert.equal(server.child.exitCode, null, 'the server never exited');
    } finally {
      await client.end().catch(() => undefined);
      await stopServer();
    }
  },
);
