// The LimitCounters contract, run over every adapter: in-process, and Redis (two clients acting
// as two API nodes) when it answers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RateLimiter } from '../../src/accounts/rate-limiter.ts';
import { LIMIT_COUNTER_ADAPTERS } from '../helpers/limit-counter-adapters.ts';

const LEASE = { leaseMs: 60_000 };

for (const { name, skip, open } of LIMIT_COUNTER_ADAPTERS) {
  describe(`LimitCounters conformance: ${name}`, { skip }, () => {
    test('a bucket starts full, refuses when empty, and refills at perMinute / 60 per second', async () => {
      const [counters] = open();
      const t0 = 1_000_000;
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await counters.takeToken('k', 3, t0), { allowed: true, tokens: 2 - i });
      }
      assert.equal((await counters.takeToken('k', 3, t0)).allowed, false);
      // One token per 20 s at 3 per minute.
      assert.equal((await counters.takeToken('k', 3, t0 + 19_999)).allowed, false);
      const refilled = await counters.takeToken('k', 3, t0 + 20_000);
      assert.equal(refilled.allowed, true);
      assert.ok(Math.abs(refilled.tokens) < 1e-9, `${refilled.tokens} left`);
      assert.equal((await counters.takeToken('other', 3, t0)).allowed, true, 'per key');
      const full = await counters.takeToken('k', 3, t0 + 10 * 60_000);
      assert.deepEqual(full, { allowed: true, tokens: 2 }, 'never above perMinute');
    });

    test('two nodes draw on one bucket: 50 concurrent takes of 10 tokens admit exactly 10', async () => {
      const [a, b] = open();
      const now = Date.now();
      const takes = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).takeToken('burst', 10, now)),
      );
      assert.equal(takes.filter((t) => t.allowed).length, 10);
    });

    test('50 concurrent acquisitions on a limit of 3 through two nodes admit exactly 3', async () => {
      const [a, b] = open();
      const now = Date.now();
      const acquired = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 === 0 ? a : b).acquireSlot('key-1', `job-${i}`, 3, { now, ...LEASE }),
        ),
      );
      assert.equal(acquired.filter(Boolean).length, 3);
      assert.equal(await b.countSlots('key-1', now), 3);
    });

    test('a released slot is free again on every node; releasing twice is harmless', async () => {
      const [a, b] = open();
      const now = Date.now();
      assert.equal(await a.acquireSlot('key-2', 'j1', 1, { now, ...LEASE }), true);
      assert.equal(await b.acquireSlot('key-2', 'j2', 1, { now, ...LEASE }), false);
      assert.equal(await b.acquireSlot('key-2', 'j1', 1, { now, ...LEASE }), true, 'held: renewed');
      await b.releaseSlot('key-2', 'j1');
      await a.releaseSlot('key-2', 'j1');
      assert.equal(await a.countSlots('key-2', now), 0);
      assert.equal(await b.acquireSlot('key-2', 'j2', 1, { now, ...LEASE }), true);
      assert.equal(await a.acquireSlot('other', 'j2', 1, { now, ...LEASE }), true, 'per key');
    });

    test('a slot whose release never came frees itself when its lease ends', async () => {
      const [a, b] = open();
      const now = Date.now();
      assert.equal(await a.acquireSlot('key-3', 'lost', 1, { now, leaseMs: 1000 }), true);
      assert.equal(await b.acquireSlot('key-3', 'next', 1, { now: now + 999, ...LEASE }), false);
      assert.equal(await b.countSlots('key-3', now + 1000), 0);
      assert.equal(await b.acquireSlot('key-3', 'next', 1, { now: now + 1000, ...LEASE }), true);
    });

    test('the rate limiter over these counters: headers and retry time from the bucket', async () => {
      const [counters] = open();
      const limiter = new RateLimiter(counters);
      const t0 = 2_000_000;
      for (let i = 0; i < 3; i++) assert.equal((await limiter.take('r', 3, t0)).allowed, true);
      const refused = await limiter.take('r', 3, t0);
      assert.equal(refused.allowed, false);
      assert.equal(refused.retryAfter, 20);
      assert.deepEqual(refused.headers, {
        'ratelimit-limit': '3',
        'ratelimit-remaining': '0',
        'ratelimit-reset': '60',
        'ratelimit-policy': '3;w=60',
      });
    });
  });
}
