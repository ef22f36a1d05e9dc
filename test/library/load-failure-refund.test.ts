// A model whose file cannot be loaded: its job fails with the reason and its credits come back,
// and the worker keeps serving the other models (issue #11, "Loading"). Real HTTP, API keys with
// credits, the ONNX engine in its worker process.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDialectServer, type DialectServer } from '../dialects/dialect-server.ts';

let server: DialectServer;
let key: string;

before(async () => {
  server = await startDialectServer();
  key = await server.createKey({ credits: 10 });
});
after(() => server.stop());

const balance = async (): Promise<number> => {
  const res = await fetch(`${server.base}/v1/account/balance`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return ((await res.json()) as { credits: number }).credits;
};

test('a model that cannot load: its job fails naming why, is refunded, and the others still serve', async () => {
  // Dropped into the models folder while the server runs (models.dir: `models` under the data
  // dir), then a rescan, as `pictor models scan` asks for: registered, not loadable.
  const dir = path.join(server.dataDir, 'models');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'broken.safetensors'), Buffer.alloc(4096));
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  const submit = (model: string): Promise<Response> =>
    fetch(`${server.base}/v1/jobs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model, prompt: 'a red circle', width: 64, height: 64, steps: 2 }),
    });
  await server.pictor.library.scan();
  // Listed once the workers have it (not yet tried, so a job is accepted and charged).
  for (;;) {
    const res = await fetch(`${server.base}/v1/models`, { headers });
    const { data } = (await res.json()) as { data: { name: string }[] };
    if (data.some((m) => m.name === 'broken')) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const before = await balance();
  const accepted = await submit('broken');
  assert.equal(accepted.status, 202, await accepted.clone().text());
  const { job_id } = (await accepted.json()) as { job_id: string };
  let job: { status: string; error?: { detail?: string; code?: string } | string };
  for (;;) {
    const res = await fetch(`${server.base}/v1/jobs/${job_id}`, { headers });
    job = (await res.json()) as typeof job;
    if (job.status !== 'queued' && job.status !== 'running') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(job.status, 'failed');
  assert.match(JSON.stringify(job.error), /could not be loaded/);
  assert.equal(await balance(), before, 'the failed job was refunded');
  const ok = await submit('sd15');
  assert.equal(ok.status, 202);
});
