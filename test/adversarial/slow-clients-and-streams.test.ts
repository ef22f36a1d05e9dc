import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { startAuthServer, waitFor, type AuthServer } from '../accounts/helpers.ts';

// Issue 16 item 18: a trickled body was never timed out; reopening a finished job's event stream
// with the final event's id never ended; A1111 `n_iter` above the key's `max_jobs` got 429 with
// `Retry-After: 1` forever.

let s: AuthServer;

before(async () => {
  // 40 ms a step: a 40-step job takes well over the 1 s request timeout to answer.
  s = await startAuthServer('sqlite', { PICTOR_SERVER__REQUEST_TIMEOUT_SECONDS: '1' }, 40);
});
after(() => s.stop());

test(
  'a body trickled a byte at a time is answered 408 and closed',
  { timeout: 15_000 },
  async () => {
    const { key } = await s.createKey({ name: 'slowloris', credits: 5 });
    const url = new URL(s.base);
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      let received = '';
      const trickle = setInterval(() => socket.write('{'), 200);
      socket.on('data', (chunk: Buffer) => {
        // The answer came: stop writing, or a write after the server's close draws a reset.
        clearInterval(trickle);
        received += chunk.toString();
      });
      socket.on('close', () => {
        clearInterval(trickle);
        resolve(received);
      });
      // A reset after the answer (a trickled byte crossed the server's close) still closed it.
      socket.on('error', (error: NodeJS.ErrnoException) =>
        error.code === 'ECONNRESET' && received !== '' ? resolve(received) : reject(error),
      );
      socket.write(
        `POST /v1/generate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n',
      );
    });
    const elapsed = Date.now() - started;
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.ok(elapsed < 5000, `closed after ${elapsed} ms`);
  },
);

test('waiting for a long answer is not cut by the request timeout', async () => {
  const { key } = await s.createKey({ name: 'patient', credits: 5 });
  const started = Date.now();
  const res = await s.request('POST', '/v1/generate', {
    key,
    body: { prompt: 'a slow one', steps: 40 },
  });
  assert.equal(res.status, 200);
  assert.ok(Date.now() - started > 1000, 'the answer took longer than the request timeout');
});

test("reopening a finished job's events with the final id sends nothing and closes", async () => {
  const { key } = await s.createKey({ name: 'sse', credits: 5 });
  const accepted = await s.request('POST', '/v1/jobs', { key, body: { prompt: 'x', steps: 2 } });
  const { job_id } = (await accepted.json()) as { job_id: string };
  const first = await (await s.request('GET', `/v1/jobs/${job_id}/events`, { key })).text();
  const ids = [...first.matchAll(/^id: (\d+)$/gm)].map((m) => m[1]);
  const last = ids.at(-1);
  assert.ok(last !== undefined && /event: completed/.test(first), first);
  const reopened = await s.request('GET', `/v1/jobs/${job_id}/events`, {
    key,
    headers: { 'last-event-id': last },
  });
  assert.equal(reopened.status, 200);
  const text = await Promise.race([
    reopened.text(),
    new Promise<string>((_, reject) =>
      setTimeout(() => reject(new Error('the stream did not end')), 3000),
    ),
  ]);
  assert.equal(text, '');
  // An earlier id still gets what followed it, ending with the final event.
  const resumed = await s.request('GET', `/v1/jobs/${job_id}/events`, {
    key,
    headers: { 'last-event-id': ids[0] ?? '0' },
  });
  assert.match(await resumed.text(), /event: completed/);
});

test('A1111 n_iter above the key’s max_jobs is a 422 naming n_iter, not an endless 429', async () => {
  const { key } = await s.createKey({ name: 'a1111', credits: 20, max_jobs: 2 });
  const refused = await s.request('POST', '/sdapi/v1/txt2img', {
    key,
    body: { prompt: 'x', steps: 1, n_iter: 3 },
  });
  assert.equal(refused.status, 422);
  const body = JSON.stringify(await refused.json());
  assert.match(body, /n_iter/);
  assert.match(body, /at most 2 queued or running/);
  const fits = await s.request('POST', '/sdapi/v1/txt2img', {
    key,
    body: { prompt: 'x', steps: 1, n_iter: 2 },
  });
  assert.equal(fits.status, 200);
  const balance = (await (await s.request('GET', '/v1/account/balance', { key })).json()) as {
    credits: number;
  };
  assert.equal(balance.credits, 18, 'only the request that ran was charged');
});

test('TOO_MANY_JOBS advises a retry from the running work, not a fixed second', async () => {
  const { key } = await s.createKey({ name: 'busy', credits: 20, max_jobs: 1 });
  const running = await s.request('POST', '/v1/jobs', { key, body: { prompt: 'x', steps: 50 } });
  assert.equal(running.status, 202);
  const { job_id } = (await running.json()) as { job_id: string };
  // Wait for it to run, so the estimate comes from its measured steps.
  await waitFor(async () => {
    const job = (await (await s.request('GET', `/v1/jobs/${job_id}`, { key })).json()) as {
      status: string;
    };
    return job.status === 'running' ? true : undefined;
  });
  const refused = await s.request('POST', '/v1/jobs', { key, body: { prompt: 'y', steps: 1 } });
  assert.equal(refused.status, 429);
  const retryAfter = Number(refused.headers.get('retry-after'));
  // 50 steps × 40 ms ≈ 2 s of work ahead.
  assert.ok(retryAfter >= 2 && retryAfter <= 6, `Retry-After: ${retryAfter}`);
  await s.request('DELETE', `/v1/jobs/${job_id}`, { key });
});
