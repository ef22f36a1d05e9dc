// A server whose blobs live in PostgreSQL or S3 (storage.blobs) stores results there and serves
// them back: the composition root's choice, end to end with the fake engine.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import S3rver from 's3rver';
import { createPictor } from '../../src/cli/compose.ts';
import { dialects, POSTGRES_URL } from '../helpers/databases.ts';
import { testConfig } from '../helpers/pictor.ts';

const pgSkip = (await dialects()).find((d) => d.name === 'postgres')?.skip;
const schema = `t_${process.pid}_blobs_${Math.random().toString(36).slice(2, 8)}`;
const dirs: string[] = [];
after(async () => {
  dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  if (pgSkip) return;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

/** Generates one image through the server and returns its bytes as the API serves them. */
async function generateOne(env: Record<string, string>): Promise<Buffer> {
  const config = testConfig({
    PICTOR_DATABASE__DRIVER: 'postgres',
    PICTOR_DATABASE__URL: POSTGRES_URL,
    ...env,
  });
  const pictor = await createPictor(config, {
    logger: false,
    fakeStepMs: 5,
    databaseSchema: schema,
  });
  try {
    await pictor.start();
    await pictor.workers.ready();
    const reply = await pictor.app.inject({
      method: 'POST',
      url: '/v1/generate/raw',
      payload: { prompt: 'a red circle', seed: 1, steps: 2 },
    });
    assert.equal(reply.statusCode, 200, reply.body);
    return reply.rawPayload;
  } finally {
    await pictor.stop();
  }
}

test('storage.blobs: postgres keeps results in the database', { skip: pgSkip }, async () => {
  const image = await generateOne({ PICTOR_STORAGE__BLOBS: 'postgres' });
  assert.ok(image.length > 0);
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ key: string; size: string; expires_at: number }>(
      `SELECT key, size, expires_at FROM ${schema}.pictor_blobs WHERE key LIKE 'results/%'`,
    );
    assert.equal(rows.length, 1);
    assert.equal(Number(rows[0]?.size), image.length, 'the served bytes are the stored ones');
    // The orphan backstop: a day past the results' TTL (3600 s by default).
    const backstop = Date.now() + (3600 + 86_400) * 1000;
    assert.ok(Math.abs((rows[0]?.expires_at ?? 0) - backstop) < 120_000, 'expiry set');
  } finally {
    await client.end();
  }
});

test('storage.blobs: s3 keeps results in the bucket', { skip: pgSkip }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pictor-s3-'));
  dirs.push(dir);
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
  const { port } = await server.run();
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: 'pictor-server' }));
    const image = await generateOne({
      PICTOR_STORAGE__BLOBS: 's3',
      PICTOR_STORAGE__S3__BUCKET: 'pictor-server',
      PICTOR_STORAGE__S3__PREFIX: 'p/',
      PICTOR_STORAGE__S3__ENDPOINT: `http://127.0.0.1:${port}`,
      PICTOR_STORAGE__S3__FORCE_PATH_STYLE: 'true',
      PICTOR_STORAGE__S3__ACCESS_KEY_ID: 'S3RVER',
      PICTOR_STORAGE__S3__SECRET_ACCESS_KEY: 'S3RVER',
    });
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: 'pictor-server', Prefix: 'p/results/' }),
    );
    assert.equal(listed.Contents?.length, 1);
    assert.equal(listed.Contents?.[0]?.Size, image.length);
  } finally {
    client.destroy();
    await server.close();
  }
});
