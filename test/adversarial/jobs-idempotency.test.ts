import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startAuthServer } from '../accounts/helpers.ts';
import { jobEvent } from '../helpers/job-events.ts';

// Issue 16 item 16: a retry with the same Idempotency-Key sent just after the client dropped the
// first request hung; one sent after the cancellation settled got `409 JOB_CANCELLED` for 24 h.

const body = { prompt: 'a red circle', steps: 40 };

test('Idempotency-Key retries after a disconnect: one sent at once gets the job, one sent after the cancel runs it again; charged once each time', async () => {
  const s = await startAuthServer('sqlite', {}, 40);
  try {
    const { key } = await s.createKey({ name: 'idem', credits: 5 });
    const events = s.pictor.events;

    /** Sends a waiting request and drops it once its job has made a step; returns the job id. */
    async function dropped(idempotencyKey: string): Promise<string> {
      const accepted = new Promise<{ jobId: string; owner: string }>((resolve) => {
        const off = events.onAll((e) => {
          if (e.type === 'started') {
            off();
            resolve(e);
          }
        });
      });
      const controller = new AbortController();
      const sent = fetch(`${s.base}/v1/generate`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'idempotency-key': idempotencyKey,
        },
        body: JSON.stringify(body),
        signal: controller.signal,
      }).catch(() => undefined);
      const { jobId, owner } = await accepted;
      await jobEvent(events, jobId, owner, (e) => e.type === 'progress');
      controller.abort();
      await sent;
      return jobId;
    }

    async function retry(idempotencyKey: string) {
      const res = await s.request('POST', '/v1/generate', {
        key,
        body,
        headers: { 'idempotency-key': idempotencyKey },
      });
      return { status: res.status, body: (await res.json()) as { job_id?: string; code?: string } };
    }

    // At once: the retry waits on the same job, which the disconnect no longer cancels.
    const first = await dropped('k-at-once');
    const atOnce = await retry('k-at-once');
    assert.equal(atOnce.status, 200, JSON.stringify(atOnce.body));

    // After the cancel settled: the retry runs the job again instead of answering 409.
    const second = await dropped('k-after');
    const owner = events.history(second)[0]?.owner ?? '';
    await jobEvent(events, second, owner, (e) => e.type === 'cancelled');
    const after = await retry('k-after');
    assert.equal(after.status, 200, JSON.stringify(after.body));
    assert.notEqual(after.body.job_id, second);
    // And a further retry replays that answer's job.
    const again = await retry('k-after');
    assert.equal(again.status, 200);
    assert.equal(again.body.job_id, after.body.job_id);

    const balance = (await (await s.request('GET', '/v1/account/balance', { key })).json()) as {
      credits: number;
    };
    assert.equal(balance.credits, 3, 'two answered requests, two credits');
    assert.equal(atOnce.body.job_id, first, "the retry got the first request's job");
  } finally {
    await s.stop();
  }
});
