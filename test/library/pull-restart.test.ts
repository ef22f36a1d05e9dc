// A server killed (SIGKILL) while a job waits for a model pulled on request: the restarted server
// resumes the pull from its partial file and runs the job, which stays queued meanwhile and is
// charged once — no failure, no refund. Real child processes, the fake hub on loopback.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { newDataDir, spawnServer, waitFor, type ServerProcess } from '../accounts/helpers.ts';
import { FakeHub, repoFromFolder } from '../helpers/fake-hub.ts';

const TINY = path.resolve(import.meta.dirname, '../../models/tiny');
const UNET = 'unet/model.onnx';
const ADMIN = `sk_admin_${'r'.repeat(32)}`;

const hub = new FakeHub();
let openGate: () => void = () => undefined;
const dataDir = newDataDir();
const cache = path.join(dataDir, 'hf');
const servers: ServerProcess[] = [];

before(async () => {
  await hub.listen();
  const files = repoFromFolder(TINY);
  const unet = files.get(UNET);
  assert.ok(unet);
  // The first server gets 1 MB of the UNet and no more.
  unet.gate = { after: 1_000_000, open: new Promise((resolve) => (openGate = resolve)) };
  hub.repos.set('org/restart', { sha: 'd'.repeat(40), files });
});
after(async () => {
  openGate();
  for (const server of servers) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  await hub.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Bytes of the UNet's `.partial` blob in the Hugging Face cache (named by its sha256). */
function partialBytes(): number {
  const unet = hub.repos.get('org/restart')?.files.get(UNET);
  assert.ok(unet);
  const etag = createHash('sha256').update(unet.data).digest('hex');
  try {
    return statSync(path.join(cache, 'models--org--restart', 'blobs', `${etag}.partial`)).size;
  } catch {
    return 0;
  }
}

test('kill -9 mid-pull: after the restart the pull resumes and the waiting job completes, charged once', async () => {
  const env = {
    PICTOR_ADMIN_KEY: ADMIN,
    PICTOR_MODELS__PULL_ON_REQUEST: 'true',
    HF_ENDPOINT: hub.url,
    HF_HUB_CACHE: cache,
  };
  const first = await spawnServer(dataDir, env);
  servers.push(first);
  const call = async (
    server: ServerProcess,
    method: string,
    route: string,
    key: string,
    body?: unknown,
  ): Promise<Record<string, unknown>> => {
    const res = await fetch(`${server.base}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as Record<string, unknown>;
    assert.ok(res.ok, JSON.stringify(json));
    return json;
  };
  const { key } = (await call(first, 'POST', '/v1/admin/keys', ADMIN, {
    name: 'customer',
    credits: 10,
  })) as { key: string };
  const accepted = await call(first, 'POST', '/v1/jobs', key, {
    model: 'org/restart',
    prompt: 'a red circle',
    steps: 2,
    width: 64,
    height: 64,
    seed: 5,
  });
  const id = accepted['job_id'] as string;
  assert.equal(accepted['credits_used'], 1);
  // Killed once part of the UNet (the gated file) is on disk, the job still waiting.
  await waitFor(() => Promise.resolve(partialBytes() > 0 ? true : undefined), 20_000, 'a partial');
  assert.equal((await call(first, 'GET', `/v1/jobs/${id}`, key))['status'], 'queued');
  first.child.kill('SIGKILL');
  await first.exited;
  const kept = partialBytes();
  assert.ok(kept > 0);

  openGate();
  const second = await spawnServer(dataDir, env);
  servers.push(second);
  const final = await waitFor(
    async () => {
      const job = await call(second, 'GET', `/v1/jobs/${id}`, key);
      return job['status'] === 'queued' || job['status'] === 'running' ? undefined : job;
    },
    30_000,
    'the job to finish',
  );
  assert.equal(final['status'], 'completed', JSON.stringify(final));
  assert.equal(final['model'], 'restart');
  // Charged once at accept, never refunded nor charged again.
  assert.equal((await call(second, 'GET', '/v1/account/balance', key))['credits'], 9);
  // The restarted pull asked for the rest of the UNet, not the whole file again.
  const unetRanges = hub.requests
    .filter((r) => r.url.endsWith(`/${UNET}`))
    .map((r) => r.range)
    .filter((r) => r !== undefined);
  assert.ok(
    unetRanges.some((r) => /^bytes=[1-9]\d*-$/.test(r)),
    `no resumed Range request: ${JSON.stringify(hub.requests.map((r) => [r.url, r.range]))}`,
  );
});
