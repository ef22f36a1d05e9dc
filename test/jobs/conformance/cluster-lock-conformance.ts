// The ClusterLock contract (src/jobs/cluster-lock.ts), one suite for every adapter.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { ClusterLock } from '../../../src/jobs/cluster-lock.ts';
import { eventually } from '../../helpers/redis.ts';

export interface ClusterLockAdapter {
  readonly name: string;
  readonly skip: string | undefined;
  /** Two nodes' handles on one fresh lock space. */
  create(): { readonly a: ClusterLock; readonly b: ClusterLock };
}

const HOUR = 3_600_000;

export function clusterLockConformance(adapter: ClusterLockAdapter): void {
  describe(`ClusterLock conformance: ${adapter.name}`, { skip: adapter.skip }, () => {
    const handles: ClusterLock[] = [];
    function fresh() {
      const pair = adapter.create();
      handles.push(pair.a, pair.b);
      return pair;
    }
    after(async () => {
      await Promise.all(handles.map((h) => h.close()));
    });

    test('one holder at a time: the other is refused until the holder releases', async () => {
      const { a, b } = fresh();
      assert.equal(await a.acquire('sweep', 'node-a', HOUR), true);
      assert.equal(await b.acquire('sweep', 'node-b', HOUR), false);
      assert.equal(await a.acquire('sweep', 'node-b', HOUR), false, 'whatever the handle');
      assert.equal(await b.release('sweep', 'node-b'), false, 'only the holder releases');
      assert.equal(await b.acquire('sweep', 'node-b', HOUR), false);
      assert.equal(await a.release('sweep', 'node-a'), true);
      assert.equal(await a.release('sweep', 'node-a'), false, 'a lease ends once');
      assert.equal(await b.acquire('sweep', 'node-b', HOUR), true);
    });

    test('the holder renews its own lease; locks of other names are independent', async () => {
      const { a, b } = fresh();
      assert.equal(await a.acquire('sweep', 'node-a', HOUR), true);
      assert.equal(await a.acquire('sweep', 'node-a', HOUR), true);
      assert.equal(await b.acquire('restore', 'node-b', HOUR), true);
      assert.equal(await a.acquire('restore', 'node-a', HOUR), false);
      assert.equal(await b.acquire('sweep', 'node-b', HOUR), false);
    });

    test('a lease not renewed runs out: another holder gets the lock, and the old one cannot release it', async () => {
      const { a, b } = fresh();
      assert.equal(await a.acquire('sweep', 'node-a', 200), true);
      assert.equal(await b.acquire('sweep', 'node-b', HOUR), false);
      // Waits for the expiry (a state), polling; no fixed sleep orders it.
      await eventually(async () => ((await b.acquire('sweep', 'node-b', HOUR)) ? true : undefined));
      assert.equal(await a.release('sweep', 'node-a'), false);
      assert.equal(await a.acquire('sweep', 'node-a', HOUR), false, 'nor renew it');
    });

    test('a renewal extends the lease: the holder keeps it past its first term', async () => {
      const { a, b } = fresh();
      const start = Date.now();
      assert.equal(await a.acquire('sweep', 'node-a', 200), true);
      assert.equal(await a.acquire('sweep', 'node-a', HOUR), true);
      // Twice the first term: without the renewal, b would have had the lock by now.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + 400 - Date.now())));
      assert.equal(await b.acquire('sweep', 'node-b', HOUR), false);
    });
  });
}
