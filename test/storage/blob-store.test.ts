// The BlobStore contract, run against every adapter and decorator, plus what the recent-blob
// cache adds on top.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { LocalDiskBlobStore } from '../../src/storage/local-disk/local-disk-blob-store.ts';
import { RecentBlobCache } from '../../src/storage/recent-blob-cache.ts';

const roots: string[] = [];
const freshRoot = (): string => {
  const root = mkdtempSync(path.join(tmpdir(), 'pictor-blobs-'));
  roots.push(root);
  return root;
};
const opened: BlobStore[] = [];
const opening = <T extends BlobStore>(store: T): T => {
  opened.push(store);
  return store;
};
after(async () => {
  await Promise.all(opened.map((store) => store.close()));
  roots.forEach((root) => rmSync(root, { recursive: true, force: true }));
});

const STORES: { name: string; create: () => BlobStore }[] = [
  { name: 'local disk', create: () => opening(new LocalDiskBlobStore(freshRoot())) },
  {
    name: 'recent-blob cache over local disk',
    create: () =>
      opening(
        new RecentBlobCache(new LocalDiskBlobStore(freshRoot()), {
          maxBytes: 1024,
          maxAgeMs: 60_000,
        }),
      ),
  },
];

for (const { name, create } of STORES) {
  describe(`BlobStore conformance: ${name}`, () => {
    test('put, get, replace and delete', async () => {
      const store = create();
      assert.equal(await store.get('results/a/0.png'), undefined);
      await store.put('results/a/0.png', new Uint8Array([1, 2, 3]));
      assert.deepEqual([...((await store.get('results/a/0.png')) ?? [])], [1, 2, 3]);
      await store.put('results/a/0.png', new Uint8Array([4]));
      assert.deepEqual([...((await store.get('results/a/0.png')) ?? [])], [4]);
      await store.delete('results/a/0.png');
      await store.delete('results/a/0.png'); // absent: not an error
      assert.equal(await store.get('results/a/0.png'), undefined);
    });

    test('keys cannot escape the store', async () => {
      await assert.rejects(create().put('../outside', new Uint8Array([1])));
    });
  });
}

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
