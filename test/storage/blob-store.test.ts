// The BlobStore contract, run against every adapter and decorator (and the tests' in-memory
// fake), plus what the local disk and the recent-blob cache add on top. PostgreSQL runs when it
// answers; S3 runs against s3rver, an S3-protocol server started in this process.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { LocalDiskBlobStore } from '../../src/storage/local-disk/local-disk-blob-store.ts';
import {
  BLOB_PART_BYTES,
  PostgresBlobStore,
} from '../../src/storage/postgres/postgres-blob-store.ts';
import { BlobExpirySweeper } from '../../src/storage/blob-expiry-sweeper.ts';
import { OrphanExpiry } from '../../src/storage/orphan-expiry.ts';
import { RecentBlobCache } from '../../src/storage/recent-blob-cache.ts';
import { S3BlobStore } from '../../src/storage/s3/s3-blob-store.ts';
import { openDatabase } from '../../src/store/index.ts';
import { dialects, openPostgres } from '../helpers/databases.ts';
import { MemoryBlobStore } from '../helpers/fake-job-ports.ts';

const roots: string[] = [];
const freshRoot = (): string => {
  const root = mkdtempSync(path.join(tmpdir(), 'pictor-blobs-'));
  roots.push(root);
  return root;
};
const cleanups: (() => Promise<void>)[] = [];
const opening = <T extends BlobStore>(store: T): T => {
  cleanups.push(() => store.close());
  return store;
};
after(async () => {
  // Stores finish their background work before their folders go.
  for (const cleanup of cleanups.reverse()) await cleanup();
  roots.forEach((root) => rmSync(root, { recursive: true, force: true }));
});

let s3Endpoint = '';
before(async () => {
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: freshRoot(),
  });
  const { port } = await server.run();
  s3Endpoint = `http://127.0.0.1:${port}`;
  cleanups.unshift(() => server.close());
});
const s3Client = () => ({
  endpoint: s3Endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
});
let buckets = 0;

const pgSkip = (await dialects()).find((d) => d.name === 'postgres')?.skip;

/**
 * One adapter under test. `open` gives two handles on the same storage, as two nodes of a
 * cluster would have (the same handle twice where the storage is one process's memory).
 * `sweepCountsOnce`: concurrent sweeps count each blob once (S3 cannot promise it; see its docs).
 */
interface StoreUnderTest {
  readonly name: string;
  readonly skip?: string | undefined;
  readonly sweepCountsOnce: boolean;
  /**
   * Why two puts racing on one key may mix here (the server, not the adapter): S3 replaces an
   * object atomically, but s3rver streams a put into the object's file in place.
   */
  readonly racingPutsMayMix?: string;
  readonly open: () => Promise<[BlobStore, BlobStore]>;
}

const STORES: StoreUnderTest[] = [
  {
    name: "in-memory (the tests' fake)",
    sweepCountsOnce: true,
    open: () => {
      const store = new MemoryBlobStore();
      return Promise.resolve([store, store]);
    },
  },
  {
    name: 'local disk',
    sweepCountsOnce: true,
    open: () => {
      const root = freshRoot();
      return Promise.resolve([
        opening(new LocalDiskBlobStore(root)),
        opening(new LocalDiskBlobStore(root)),
      ]);
    },
  },
  {
    name: 'recent-blob cache over local disk',
    sweepCountsOnce: true,
    open: () => {
      const cached = opening(
        new RecentBlobCache(new LocalDiskBlobStore(freshRoot()), {
          maxBytes: 4 * 1024 * 1024,
          maxAgeMs: 60_000,
        }),
      );
      return Promise.resolve([cached, cached]);
    },
  },
  {
    name: 'orphan expiry over the in-memory fake',
    sweepCountsOnce: true,
    open: () => {
      const store = new OrphanExpiry(new MemoryBlobStore(), 86_400_000);
      return Promise.resolve([store, store]);
    },
  },
  {
    name: 'PostgreSQL',
    skip: pgSkip,
    sweepCountsOnce: true,
    open: async () => {
      const database = await openPostgres();
      const twinDb = await openDatabase({
        driver: 'postgres',
        url: database.url,
        ...(database.schema === undefined ? {} : { schema: database.schema }),
      });
      cleanups.push(async () => {
        await twinDb.destroy();
        await database.cleanup();
      });
      return [await PostgresBlobStore.open(database.db), await PostgresBlobStore.open(twinDb)];
    },
  },
  {
    name: 'S3 (s3rver)',
    sweepCountsOnce: false,
    racingPutsMayMix:
      's3rver writes a put into the object file in place; S3 itself replaces atomically',
    open: async () => {
      const bucket = `pictor-test-${++buckets}`;
      const admin = new S3Client(s3Client());
      await admin.send(new CreateBucketCommand({ Bucket: bucket }));
      admin.destroy();
      const options = { bucket, prefix: 'pictor/', client: s3Client() };
      return [opening(await S3BlobStore.open(options)), opening(await S3BlobStore.open(options))];
    },
  },
];

const bytes = (data: Buffer | undefined): number[] => [...(data ?? [])];

for (const { name, skip, sweepCountsOnce, racingPutsMayMix, open } of STORES) {
  describe(`BlobStore conformance: ${name}`, { skip }, () => {
    test('put, get, replace and delete', async () => {
      const [store] = await open();
      assert.equal(await store.get('results/a/0.png'), undefined);
      await store.put('results/a/0.png', new Uint8Array([1, 2, 3]));
      assert.deepEqual(bytes(await store.get('results/a/0.png')), [1, 2, 3]);
      await store.put('results/a/0.png', new Uint8Array([4]));
      assert.deepEqual(bytes(await store.get('results/a/0.png')), [4]);
      await store.delete('results/a/0.png');
      await store.delete('results/a/0.png'); // absent: not an error
      assert.equal(await store.get('results/a/0.png'), undefined);
    });

    test('an empty blob and one of several megabytes come back byte for byte', async () => {
      const [store, twin] = await open();
      await store.put('uploads/empty', new Uint8Array(0));
      assert.deepEqual(bytes(await twin.get('uploads/empty')), []);
      const large = randomBytes(2 * BLOB_PART_BYTES + 12345);
      await store.put('uploads/large.png', large);
      assert.ok(large.equals((await twin.get('uploads/large.png')) ?? Buffer.alloc(0)));
    });

    test('keys outside the key syntax are refused, so none escapes the store', async () => {
      const [store] = await open();
      for (const key of ['../outside', '', 'a//b', '/abs', 'a/./b', 'a/../b', '.spare/x', 'a b']) {
        await assert.rejects(store.put(key, new Uint8Array([1])), /invalid blob key/, key);
        await assert.rejects(store.get(key), /invalid blob key/, key);
      }
    });

    test('what one node writes, another reads; a delete is seen by both', async () => {
      const [store, twin] = await open();
      await store.put('results/shared-0.png', new Uint8Array([5, 6]));
      assert.deepEqual(bytes(await twin.get('results/shared-0.png')), [5, 6]);
      await twin.delete('results/shared-0.png');
      assert.equal(await twin.get('results/shared-0.png'), undefined);
    });

    test(
      'concurrent puts of one key leave one of them whole, never a mix',
      { skip: racingPutsMayMix },
      async () => {
        const [store, twin] = await open();
        const a = Buffer.alloc(BLOB_PART_BYTES + 10, 0xaa);
        const b = Buffer.alloc(BLOB_PART_BYTES + 10, 0xbb);
        await Promise.all([store.put('r/race', a), twin.put('r/race', b)]);
        const stored = (await store.get('r/race')) ?? Buffer.alloc(0);
        assert.ok(stored.equals(a) || stored.equals(b), 'one whole version');
      },
    );

    test('an expired blob is gone for readers before any sweep', async () => {
      const [store] = await open();
      // (That a blob is readable before its expiry, the sweep test below shows.)
      const expiresAt = Date.now() + 100;
      await store.put('uploads/soon', new Uint8Array([1]), { expiresAt });
      await sleep(Math.max(0, expiresAt - Date.now() + 5)); // waits for the clock itself
      assert.equal(await store.get('uploads/soon'), undefined);
      await store.put('uploads/past', new Uint8Array([1]), { expiresAt: Date.now() - 1 });
      assert.equal(await store.get('uploads/past'), undefined, 'a past expiry stores nothing');
    });

    test('the sweep removes expired blobs only, up to its limit, and a rewrite resets expiry', async () => {
      const [store] = await open();
      const now = Date.now();
      for (let i = 0; i < 3; i++) {
        await store.put(`results/old-${i}`, new Uint8Array([i]), { expiresAt: now + 1000 + i });
      }
      await store.put('results/later', new Uint8Array([9]), { expiresAt: now + 60_000 });
      await store.put('results/kept', new Uint8Array([8]));
      await store.put('results/renewed', new Uint8Array([7]), { expiresAt: now + 1000 });
      await store.put('results/renewed', new Uint8Array([7])); // no expiry any more
      const sweptAt = now + 2000;
      assert.equal(await store.deleteExpired(sweptAt, 2), 2, 'the limit holds');
      assert.equal(await store.deleteExpired(sweptAt, 100), 1);
      assert.equal(await store.deleteExpired(sweptAt, 100), 0);
      for (let i = 0; i < 3; i++) assert.equal(await store.get(`results/old-${i}`), undefined);
      assert.deepEqual(bytes(await store.get('results/later')), [9]);
      assert.deepEqual(bytes(await store.get('results/kept')), [8]);
      assert.deepEqual(bytes(await store.get('results/renewed')), [7]);
    });

    test('two nodes sweeping at once remove every expired blob and nothing else', async () => {
      const [store, twin] = await open();
      const now = Date.now();
      const expired = 24;
      await Promise.all(
        Array.from({ length: expired }, (_, i) =>
          store.put(`results/e-${i}`, new Uint8Array([i]), { expiresAt: now + 1000 }),
        ),
      );
      await store.put('results/live', new Uint8Array([1]), { expiresAt: now + 60_000 });
      const counts = await Promise.all([
        store.deleteExpired(now + 2000, 100),
        twin.deleteExpired(now + 2000, 100),
      ]);
      const total = counts[0] + counts[1];
      if (sweepCountsOnce)
        assert.equal(total, expired, `each blob counted once: ${counts.join(' + ')}`);
      else assert.ok(total >= expired, `every blob removed: ${counts.join(' + ')}`);
      for (let i = 0; i < expired; i++) assert.equal(await twin.get(`results/e-${i}`), undefined);
      assert.deepEqual(bytes(await twin.get('results/live')), [1]);
    });
  });
}

describe('OrphanExpiry and BlobExpirySweeper', () => {
  test('a blob written without an expiry gets a late one; an explicit one passes through', async () => {
    const inner = new MemoryBlobStore();
    const store = new OrphanExpiry(inner, 10_000);
    const now = Date.now();
    await store.put('results/orphan-0.png', new Uint8Array([1]));
    await store.put('results/short-0.png', new Uint8Array([2]), { expiresAt: now + 1000 });
    assert.equal(await store.deleteExpired(now + 5000, 10), 1, 'the explicit expiry');
    assert.deepEqual(bytes(await inner.get('results/orphan-0.png')), [1]);
    assert.equal(await store.deleteExpired(now + 10_000 + 1000, 10), 1, 'the backstop');
    assert.equal(await inner.get('results/orphan-0.png'), undefined);
  });

  test('one pass drains every expired blob, batch after batch', async () => {
    const store = new MemoryBlobStore();
    const now = Date.now();
    for (let i = 0; i < 1234; i++) {
      await store.put(`results/b-${i}`, new Uint8Array([1]), { expiresAt: now + 1000 });
    }
    await store.put('results/live', new Uint8Array([1]), { expiresAt: now + 60_000 });
    const sweeper = new BlobExpirySweeper(store);
    assert.equal(await sweeper.sweep(now + 2000), 1234);
    assert.deepEqual([...store.blobs.keys()], ['results/live']);
    await sweeper.stop();
  });
});

describe('RecentBlobCache', () => {
  test('serves a fresh write from memory, and never serves what was deleted', async () => {
    const root = freshRoot();
    const cache = opening(
      new RecentBlobCache(new LocalDiskBlobStore(root), {
        maxBytes: 1024,
        maxAgeMs: 60_000,
      }),
    );
    await cache.put('r/1.png', new Uint8Array([9, 9]));
    rmSync(path.join(root, 'r/1.png')); // gone from disk behind the cache's back
    assert.deepEqual([...((await cache.get('r/1.png')) ?? [])], [9, 9]);
    await cache.delete('r/1.png');
    assert.equal(await cache.get('r/1.png'), undefined);
    assert.equal(cache.cachedBytes, 0);
  });

  test('stays within its byte budget (oldest out) and its age limit', async () => {
    const root = freshRoot();
    const cache = opening(
      new RecentBlobCache(new LocalDiskBlobStore(root), {
        maxBytes: 10,
        maxAgeMs: 60_000,
      }),
    );
    await cache.put('a', new Uint8Array(6));
    await cache.put('b', new Uint8Array(6));
    assert.equal(cache.cachedBytes, 6);
    await cache.put('big', new Uint8Array(11)); // larger than the budget: written, not cached
    assert.equal(cache.cachedBytes, 6);
    assert.ok(existsSync(path.join(root, 'big')));
    const aged = opening(
      new RecentBlobCache(new LocalDiskBlobStore(root), { maxBytes: 100, maxAgeMs: -1 }),
    );
    await aged.put('c', new Uint8Array([7]));
    rmSync(path.join(root, 'c'));
    assert.equal(await aged.get('c'), undefined, 'an entry past its age is read from disk');
  });
});

test('local disk: a folder removed behind the store is made again on the next write', async () => {
  const root = freshRoot();
  const store = opening(new LocalDiskBlobStore(root));
  await store.put('results/x-0.png', new Uint8Array([1]));
  rmSync(path.join(root, 'results'), { recursive: true });
  await store.put('results/y-0.png', new Uint8Array([2]));
  assert.deepEqual([...((await store.get('results/y-0.png')) ?? [])], [2]);
});
