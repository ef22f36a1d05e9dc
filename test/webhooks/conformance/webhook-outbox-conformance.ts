// The WebhookOutbox contract (src/webhooks/webhook-outbox.ts), one suite for every adapter: claims,
// their lapse and fencing, and two real WebhookSenders (two nodes' handles on one outbox) racing
// to send 60 deliveries to a real HTTP receiver: each is received exactly once, signed.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { WebhookDelivery, WebhookOutbox } from '../../../src/webhooks/webhook-outbox.ts';
import { WebhookSender } from '../../../src/webhooks/webhook-sender.ts';
import { eventually } from '../../helpers/redis.ts';

export interface WebhookOutboxAdapter {
  readonly name: string;
  readonly skip: string | undefined;
  /** Two nodes' handles (their own connections) on one fresh, empty outbox. */
  open(): Promise<{ readonly a: WebhookOutbox; readonly b: WebhookOutbox; close(): Promise<void> }>;
}

const SECRET = 'whsec_b3V0Ym94LWNvbmZvcm1hbmNlLXNlY3JldA==';
const LEASE = 1000;
const claim = (now: number, claimant = 'node-a', limit = 10) => ({
  now,
  limit,
  claimant,
  leaseMs: LEASE,
  maxAttempts: 3,
});

let serial = 0;
function delivery(over: Partial<WebhookDelivery> = {}): WebhookDelivery {
  const n = ++serial;
  return {
    id: `msg_${n}_${Math.random().toString(36).slice(2, 8)}`,
    jobId: `job_${n}`,
    url: 'http://127.0.0.1:9/hook',
    eventType: 'job.completed',
    payload: JSON.stringify({ type: 'job.completed', n }),
    attempts: 0,
    nextAttemptAt: 100,
    status: 'pending',
    lastError: null,
    createdAt: n,
    claimedBy: null,
    ...over,
  };
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

export function webhookOutboxConformance(adapter: WebhookOutboxAdapter): void {
  describe(`WebhookOutbox conformance: ${adapter.name}`, { skip: adapter.skip }, () => {
    const closers: (() => Promise<void>)[] = [];
    async function fresh() {
      const pair = await adapter.open();
      closers.push(() => pair.close());
      return pair;
    }
    after(async () => {
      for (const close of closers) await close();
    });

    test('a claim counts the attempt, names its claimant and holds the delivery for its lease', async () => {
      const { a, b } = await fresh();
      const d = delivery();
      await a.add(d);
      assert.deepEqual(await b.get(d.id), d);
      assert.deepEqual(await a.claimDue(claim(99)), [], 'not due yet');
      const [claimed] = await a.claimDue(claim(100));
      assert.deepEqual(claimed, { ...d, attempts: 1, claimedBy: 'node-a', nextAttemptAt: 1100 });
      assert.deepEqual(await b.claimDue(claim(100, 'node-b')), [], 'held by its claim');
      assert.deepEqual(await b.claimDue(claim(1099, 'node-b')), [], 'until the lease ends');
      // A failed attempt settles with its backoff: due again then, same id (the webhook-id).
      assert.equal(
        await a.settle(d.id, 1, { status: 'pending', nextAttemptAt: 500, lastError: 'HTTP 500' }),
        true,
      );
      assert.deepEqual(await b.get(d.id), {
        ...d,
        attempts: 1,
        nextAttemptAt: 500,
        lastError: 'HTTP 500',
      });
      assert.equal(
        await a.settle(d.id, 1, { status: 'delivered', nextAttemptAt: 0, lastError: null }),
        false,
        'an attempt settles once',
      );
      assert.deepEqual(await b.claimDue(claim(499, 'node-b')), []);
      const [retry] = await b.claimDue(claim(500, 'node-b'));
      assert.equal(retry?.id, d.id);
      assert.equal(retry?.attempts, 2);
      assert.equal(retry?.claimedBy, 'node-b');
      assert.equal(
        await b.settle(d.id, 2, { status: 'delivered', nextAttemptAt: 600, lastError: null }),
        true,
      );
      assert.deepEqual(await a.claimDue(claim(10_000)), [], 'a delivered one is never sent again');
      const done = await a.get(d.id);
      assert.equal(done?.status, 'delivered');
      assert.equal(done?.claimedBy, null);
      assert.deepEqual(
        (await a.listByJob(d.jobId)).map((x) => x.id),
        [d.id],
      );
    });

    test('a claim whose sender died lapses: another sender takes the next attempt, the late one is fenced off', async () => {
      const { a, b } = await fresh();
      const d = delivery();
      await a.add(d);
      const [first] = await a.claimDue(claim(100));
      assert.equal(first?.attempts, 1);
      // node-a "dies": no settle. At the end of its lease node-b claims attempt 2.
      const [second] = await b.claimDue(claim(1100, 'node-b'));
      assert.equal(second?.attempts, 2);
      assert.equal(second?.claimedBy, 'node-b');
      assert.equal(
        await a.settle(d.id, 1, { status: 'delivered', nextAttemptAt: 0, lastError: null }),
        false,
        'the lapsed attempt records nothing',
      );
      assert.equal((await a.get(d.id))?.status, 'pending');
      assert.equal(
        await b.settle(d.id, 2, { status: 'delivered', nextAttemptAt: 0, lastError: null }),
        true,
      );
    });

    test('a lapsed last attempt fails the delivery; what its sender saw may still be recorded', async () => {
      const { a, b } = await fresh();
      const lapsed = delivery({ attempts: 2 });
      const late = delivery({ attempts: 2 });
      await a.add(lapsed);
      await a.add(late);
      const claimed = await a.claimDue(claim(100));
      assert.deepEqual(
        claimed.map((d) => d.attempts),
        [3, 3],
      );
      assert.deepEqual(await b.claimDue(claim(1100, 'node-b')), [], 'never a fourth attempt');
      const failed = await b.get(lapsed.id);
      assert.equal(failed?.status, 'failed');
      assert.match(failed?.lastError ?? '', /claim lapsed/);
      assert.equal(
        await a.settle(late.id, 3, { status: 'delivered', nextAttemptAt: 0, lastError: null }),
        true,
      );
      assert.equal((await b.get(late.id))?.status, 'delivered');
    });

    test('claims take the oldest due first, at most the limit', async () => {
      const { a } = await fresh();
      const ds = [
        delivery({ nextAttemptAt: 30 }),
        delivery({ nextAttemptAt: 10 }),
        delivery({ nextAttemptAt: 20 }),
        delivery({ nextAttemptAt: 5000 }),
      ];
      for (const d of ds) await a.add(d);
      const first = await a.claimDue(claim(100, 'node-a', 2));
      assert.deepEqual(new Set(first.map((d) => d.id)), new Set([ds[1]?.id, ds[2]?.id]));
      const rest = await a.claimDue(claim(100, 'node-a', 2));
      assert.deepEqual(
        rest.map((d) => d.id),
        [ds[0]?.id],
      );
    });

    test('concurrent claims from two handles never hand out one attempt twice (200 claims over 60 rows)', async () => {
      const { a, b } = await fresh();
      const ds = Array.from({ length: 60 }, () => delivery());
      for (const d of ds) await a.add(d);
      const got = await Promise.all(
        Array.from({ length: 100 }, (_, i) => [
          a.claimDue(claim(100, `a${i}`, 3)),
          b.claimDue(claim(100, `b${i}`, 3)),
        ]).flat(),
      );
      const ids = got.flat().map((d) => d.id);
      assert.equal(ids.length, 60, 'every due delivery claimed');
      assert.equal(new Set(ids).size, 60, 'none twice');
    });

    test('two senders racing over one outbox send each of 60 deliveries exactly once, signed', async () => {
      const { a, b } = await fresh();
      const received: { headers: IncomingHttpHeaders; body: string }[] = [];
      const hook = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          received.push({ headers: req.headers, body });
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
      const options = {
        secret: SECRET,
        allowPrivateAddresses: true,
        maxAttempts: 3,
        initialBackoffMs: 60_000,
        timeoutMs: 5000,
        describe: () => ({}),
      };
      const senders = [
        new WebhookSender(a, { ...options, claimant: 'node-a' }, silent),
        new WebhookSender(b, { ...options, claimant: 'node-b' }, silent),
      ];
      try {
        const ds = Array.from({ length: 60 }, () => delivery({ url, nextAttemptAt: 0 }));
        // Rows arrive while both senders poll, as finished jobs' rows do.
        for (const [i, d] of ds.entries()) {
          await (i % 2 === 0 ? a : b).add(d);
          for (const s of senders) s.poll();
        }
        for (const s of senders) s.poll();
        await eventually(async () => {
          const rows = await Promise.all(ds.map((d) => a.get(d.id)));
          return rows.every((r) => r?.status === 'delivered') ? true : undefined;
        }, 30_000);
        await Promise.all(senders.map((s) => s.idle()));
        const ids = received.map((r) => String(r.headers['webhook-id']));
        assert.equal(received.length, 60, `received ${received.length}`);
        assert.deepEqual(new Set(ids), new Set(ds.map((d) => d.id)), 'each delivery once');
        const verifier = new Webhook(SECRET);
        for (const r of received) verifier.verify(r.body, r.headers as Record<string, string>);
        const rows = await Promise.all(ds.map((d) => a.get(d.id)));
        assert.ok(
          rows.every((r) => r?.attempts === 1),
          'one attempt each',
        );
        const by = new Set(rows.map((r) => r?.status));
        assert.deepEqual(by, new Set(['delivered']));
      } finally {
        await Promise.all(senders.map((s) => s.stop()));
        hook.close();
      }
    });
  });
}
