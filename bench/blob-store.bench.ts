// `npm run bench:blobs`: put and get latency of each blob store with result-sized blobs, and
// the shared-limit counters' take/acquire latency. Local disk (with and without the recent-blob
// cache), PostgreSQL and Redis at their test URLs, S3 against s3rver in this process (its own
// overhead included: a real S3 or MinIO differs). `--count N` operations, `--kb K` per blob.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { InProcessLimitCounters } from '../src/accounts/in-process/in-process-limit-counters.ts';
import type { LimitCounters } from '../src/accounts/limit-counters.ts';
import { RedisLimitCounters } from '../src/accounts/redis/redis-limit-counters.ts';
import type { BlobStore } from '../src/storage/blob-store.ts';
import { LocalDiskBlobStore } from '../src/storage/local-disk/local-disk-blob-store.ts';
import { PostgresBlobStore } from '../src/storage/postgres/postgres-blob-store.ts';
import { RecentBlobCache } from '../src/storage/recent-blob-cache.ts';
import { S3BlobStore } from '../src/storage/s3/s3-blob-store.ts';
import { openDatabase } from '../src/store/index.ts';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '500' }, kb: { type: 'string', default: '100' } },
});
const count = Number(values.count);
const blob = new Uint8Array(Number(values.kb) * 1024).fill(7);
const POSTGRES_URL =
  process.env['PICTOR_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env['PICTOR_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function timed(n: number, op: (i: number) => Promise<unknown>): Promise<string> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await op(i);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return `p50 ${percentile(times, 50).toFixed(3)} ms, p99 ${percentile(times, 99).toFixed(3)} ms`;
}

async function benchStore(name: string, store: BlobStore): Promise<void> {
  const put = await timed(count, (i) => store.put(`results/bench-${i}.png`, blob));
  const get = await timed(count, (i) => store.get(`results/bench-${i}.png`));
  console.log(`${name.padEnd(28)} put ${put} | get ${get}`);
  for (let i = 0; i < count; i++) await store.delete(`results/bench-${i}.png`);
  await store.close();
}

async function benchCounters(name: string, counters: LimitCounters): Promise<void> {
  const now = Date.now();
  const take = await timed(count, () => counters.takeToken('bench', 1_000_000, now));
  const slot = await timed(count, (i) =>
    counters.acquireSlot('bench', `job-${i}`, count + 1, { now, leaseMs: 60_000 }),
  );
  console.log(`${name.padEnd(28)} takeToken ${take} | acquireSlot ${slot}`);
  await counters.close();
}

console.log(`${count} operations each, ${values.kb} KB blobs`);
const dir = mkdtempSync(path.join(tmpdir(), 'pictor-bench-blobs-'));
try {
  await benchStore('local disk', new LocalDiskBlobStore(path.join(dir, 'a')));
  await benchStore(
    'local disk + recent cache',
    new RecentBlobCache(new LocalDiskBlobStore(path.join(dir, 'b')), {
      maxBytes: 64 * 1024 * 1024,
      maxAgeMs: 60_000,
    }),
  );
  const schema = `bench_${process.pid}`;
  const db = await openDatabase({ driver: 'postgres', url: POSTGRES_URL, schema }).catch(
    (error: unknown) => console.log(`PostgreSQL skipped: ${(error as Error).message}`),
  );
  if (db) {
    await benchStore('PostgreSQL', await PostgresBlobStore.open(db));
    await db.schema.dropSchema(schema).cascade().execute();
    await db.destroy();
  }
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: path.join(dir, 's3'),
  });
  const { port } = await server.run();
  const client = {
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
  const admin = new S3Client(client);
  await admin.send(new CreateBucketCommand({ Bucket: 'pictor-bench' }));
  admin.destroy();
  await benchStore(
    'S3 (s3rver)',
    await S3BlobStore.open({ bucket: 'pictor-bench', prefix: '', client }),
  );
  await server.close();
  await benchCounters('counters: in-process', new InProcessLimitCounters());
  await benchCounters(
    'counters: Redis',
    new RedisLimitCounters({ url: REDIS_URL, keyPrefix: `pictor-bench:${process.pid}:` }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
