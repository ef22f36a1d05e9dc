import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import type { Pictor } from '../../src/cli/compose.ts';
import { openDatabase } from '../../src/store/index.ts';
import { solidPng } from '../../src/workers/engines/tiny-png.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

async function listen(p: Pictor): Promise<string> {
  return p.app.listen({ host: '127.0.0.1', port: 0 });
}

async function post(
  base: string,
  path: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

async function waitFor<T>(fn: () => Promise<T | undefined>, ms = 10000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const value = await fn();
    if (value !== undefined) return value;
    await sleep(25);
  }
  throw new Error('timed out');
}

test('over real HTTP: a worker killed mid-job is restarted and the job retried; the API stays up', async () => {
  const p = await startPictor(testConfig(), 30);
  try {
    const base = await listen(p);
    const res = await post(base, '/v1/jobs', { prompt: 'survive', steps: 20 });
    const { job_id } = (await res.json()) as { job_id: string };
    await waitFor(
      async () =>
        ((await (await fetch(`${base}/v1/jobs/${job_id}`)).json()) as { status: string }).status ===
          'running' || undefined,
    );
    const [pid] = p.workers.pids();
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    assert.equal((await fetch(`${base}/v1/health/live`)).status, 200);
    const done = await waitFor(async () => {
      const job = (await (await fetch(`${base}/v1/jobs/${job_id}`)).json()) as {
        status: string;
        attempts: number;
      };
      return job.status === 'completed' ? job : undefined;
    });
    assert.equal(done.attempts, 2);
    assert.equal(p.workers.restarts, 1);
    // A job that kills its worker twice fails rather than looping.
    const crash = await post(base, '/v1/generate', { prompt: '__crash__', steps: 2 });
    assert.equal(crash.status, 500);
    assert.equal(((await crash.json()) as { error_code: string }).error_code, 'WORKER_DIED');
  } finally {
    await p.stop();
  }
});

test('a restart loses no job: queued ones run after it, the running one is retried', async () => {
  const config = testConfig();
  const first = await startPictor(config, 40);
  const base = await listen(first);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await post(base, '/v1/jobs', {
      prompt: `persist ${i}`,
      steps: 25,
      width: 64 + 8 * i,
    });
    ids.push(((await res.json()) as { job_id: string }).job_id);
  }
  await sleep(200);
  // An SSE client follows the last job, and remembers the last event id it saw.
  const before = await fetch(`${base}/v1/jobs/${ids[2]}/events`);
  const reader = before.body?.getReader();
  const chunk = (await reader?.read())?.value as Uint8Array | undefined;
  const seen = new TextDecoder().decode(chunk);
  const lastId = [...seen.matchAll(/^id: (\d+)$/gm)].at(-1)?.[1];
  assert.ok(lastId, seen);
  await reader?.cancel();
  // Simulate a crash: kill the worker and drop everything without a graceful stop.
  for (const pid of first.workers.pids()) process.kill(pid, 'SIGKILL');
  await first.stop();
  const second = await startPictor(config, 5);
  try {
    for (const id of ids) {
      const job = await waitFor(async () => {
        const j = await second.service.get({ owner: 'local', maxPriority: 0 }, id);
        return j.status === 'completed' ? j : undefined;
      }, 20000);
      assert.equal(job.status, 'completed');
    }
    // Reconnecting to the new process with that id misses nothing it knows: queued again, done.
    const after = await fetch(`${await listen(second)}/v1/jobs/${ids[2]}/events`, {
      headers: { 'last-event-id': lastId },
    });
    const replayed = await after.text();
    const types = [...replayed.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    assert.equal(types[0], 'queued', replayed);
    assert.equal(types.at(-1), 'completed', replayed);
    assert.ok(types.includes('started'), replayed);
  } finally {
    await second.stop();
  }
});

test('webhooks are signed Standard Webhooks and verify with the library', async () => {
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(received.length === 1 ? 500 : 204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  const p = await startPictor(testConfig());
  try {
    const base = await listen(p);
    const res = await post(base, '/v1/generate', { prompt: 'hooked', steps: 1, webhook_url: url });
    assert.equal(res.status, 200);
    await waitFor(() => Promise.resolve(received.length >= 2 ? true : undefined));
    const last = received[1];
    assert.ok(last);
    const event = new Webhook(p.webhookSecret).verify(
      last.body,
      last.headers as Record<string, string>,
    ) as { type: string; data: { status: string } };
    assert.equal(event.type, 'job.completed');
    assert.equal(event.data.status, 'completed');
    assert.equal(received[0]?.headers['webhook-id'], last.headers['webhook-id']);
  } finally {
    await p.stop();
    hook.close();
  }
});

test('private webhook URLs are refused unless allowed; a disconnecting client cancels its job', async () => {
  const p = await startPictor(
    testConfig({ PICTOR_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES: 'false' }),
    30,
  );
  try {
    const base = await listen(p);
    const refused = await post(base, '/v1/jobs', {
      prompt: 'x',
      webhook_url: 'http://127.0.0.1:9/hook',
    });
    assert.equal(refused.status, 422);
    assert.equal(((await refused.json()) as { code: string }).code, 'WEBHOOK_URL_REFUSED');
    const controller = new AbortController();
    const waiting = post(
      base,
      '/v1/generate',
      { prompt: 'abandon', steps: 40 },
      controller.signal,
    ).catch(() => undefined);
    await sleep(200);
    controller.abort();
    await waiting;
    const jobs = await waitFor(async () => {
      const list = (await (await fetch(`${base}/v1/jobs`)).json()) as {
        data: { status: string }[];
      };
      return list.data[0]?.status === 'cancelled' ? list : undefined;
    });
    assert.equal(jobs.data[0]?.status, 'cancelled');
  } finally {
    await p.stop();
  }
});

test('an img2img job whose upload is gone by the time it runs fails alone with INVALID_IMAGE', async () => {
  const config = testConfig();
  const p = await startPictor(config, 30);
  const db = await openDatabase({ driver: 'sqlite', url: config.database.url });
  try {
    const base = await listen(p);
    const upload = await fetch(`${base}/v1/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: solidPng(64, 64, [1, 2, 3]),
    });
    const { id } = (await upload.json()) as { id: string };
    // A job holds the worker; the img2img job waits behind it.
    const blocker = post(base, '/v1/generate', { prompt: 'block', steps: 10 });
    await sleep(50);
    const waiting = await post(base, '/v1/jobs', { prompt: 'i2i', steps: 1, init_image: id });
    const { job_id } = (await waiting.json()) as { job_id: string };
    // The upload is removed while the job waits (as the sweeper does when it expires).
    await db.deleteFrom('uploads').where('id', '=', id).execute();
    assert.equal((await blocker).status, 200);
    const job = await waitFor(async () => {
      const res = await fetch(`${base}/v1/jobs/${job_id}`);
      const body = (await res.json()) as {
        status: string;
        error?: { code: string; message: string };
      };
      return body.status === 'queued' || body.status === 'running' ? undefined : body;
    });
    assert.equal(job.status, 'failed');
    assert.equal(job.error?.code, 'INVALID_IMAGE');
    assert.match(job.error?.message ?? '', /init_image: the upload .* expired before the job ran/);
    // The next job runs as usual.
    assert.equal((await post(base, '/v1/generate', { prompt: 'after', steps: 1 })).status, 200);
  } finally {
    await db.destroy();
    await p.stop();
  }
});
