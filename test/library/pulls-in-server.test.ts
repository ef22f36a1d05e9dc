// Pulls seen from outside a running server (a real `pictor serve` process, the fake hub on
// loopback): `GET /v1/models` lists a model being pulled as `downloading` with its progress, and
// the sources' tokens reach their hosts but never the server's logs, answers or pull events.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { newDataDir, spawnServer, waitFor, type ServerProcess } from '../accounts/helpers.ts';
import { FakeHub, repoFromFolder } from '../helpers/fake-hub.ts';

const TINY = path.resolve(import.meta.dirname, '../../models/tiny');
const ADMIN = `sk_admin_${'p'.repeat(32)}`;
const HF_TOKEN = 'hf_never_logged_0123456789abcdef';
const CIVITAI_TOKEN = 'civ_never_logged_0123456789abcdef';

const hub = new FakeHub();
const dataDir = newDataDir();
let server: ServerProcess;
let openGate: () => void = () => undefined;

before(async () => {
  await hub.listen();
  const held = repoFromFolder(TINY);
  const unet = held.get('unet/model.onnx');
  assert.ok(unet);
  held.set('unet/model.onnx', {
    ...unet,
    gate: { after: 1_000_000, open: new Promise((resolve) => (openGate = resolve)) },
  });
  hub.repos.set('org/held', { sha: 'e'.repeat(40), files: held, token: HF_TOKEN });
  hub.repos.set('org/other-token', {
    sha: 'f'.repeat(40),
    files: repoFromFolder(TINY),
    token: 'hf_a_token_pictor_lacks',
  });
  hub.civitai.set(8001, {
    id: 8001,
    modelId: 800,
    baseModel: 'SD 1.5',
    fileName: 'gated.safetensors',
    data: Buffer.alloc(4096, 5),
    token: CIVITAI_TOKEN,
  });
  server = await spawnServer(dataDir, {
    PICTOR_ADMIN_KEY: ADMIN,
    PICTOR_LOG__LEVEL: 'trace',
    PICTOR_MODELS__PULL_ON_REQUEST: 'true',
    HF_ENDPOINT: hub.url,
    HF_HUB_CACHE: path.join(dataDir, 'hf'),
    HF_TOKEN,
    PICTOR_SOURCES__CIVITAI__ENDPOINT: hub.url,
    CIVITAI_TOKEN,
  });
});
after(async () => {
  openGate();
  server.child.kill('SIGKILL');
  await server.exited;
  await hub.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function call(method: string, route: string, body?: unknown): Promise<Response> {
  return fetch(`${server.base}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

interface ModelRow {
  name: string;
  state: string;
  progress?: { total: number; completed: number; pull_id: string };
}
const models = async (): Promise<ModelRow[]> =>
  ((await (await call('GET', '/v1/models')).json()) as { data: ModelRow[] }).data;

/** A pull's SSE stream, read to its end. */
async function pullEvents(id: string): Promise<string> {
  return (await call('GET', `/v1/admin/models/pulls/${id}/events`)).text();
}

test('GET /v1/models lists a model being pulled as downloading, with its progress, then as served', async () => {
  const accepted = await call('POST', '/v1/admin/models', { source: 'hf:org/held' });
  assert.equal(accepted.status, 202);
  const { pull_id: pullId } = (await accepted.json()) as { pull_id: string };
  // The UNet is held after 1 MB: the row shows the bytes so far of all files.
  const row = await waitFor(
    async () =>
      (await models()).find(
        (m) => m.name === 'held' && m.state === 'downloading' && (m.progress?.completed ?? 0) > 0,
      ),
    20_000,
    'the pull listed as downloading',
  );
  assert.equal(row.progress?.pull_id, pullId);
  assert.ok(row.progress && row.progress.total > 8_000_000, JSON.stringify(row));
  assert.ok(row.progress.completed < row.progress.total);
  openGate();
  assert.match(await pullEvents(pullId), /"status":"success"/);
  const served = await waitFor(
    async () => (await models()).find((m) => m.name === 'held' && m.state !== 'downloading'),
    20_000,
    'the pulled model served',
  );
  assert.ok(['available', 'loaded'].includes(served.state), served.state);
  assert.equal(served.progress, undefined);
});

test('HF_TOKEN and CIVITAI_TOKEN go to their hosts but never into logs, answers or pull events', async () => {
  const texts: string[] = [];
  for (const source of ['civitai:800', 'hf:org/other-token']) {
    const accepted = await call('POST', '/v1/admin/models', { source });
    texts.push(await accepted.clone().text());
    const { pull_id: pullId } = (await accepted.json()) as { pull_id: string };
    texts.push(await pullEvents(pullId));
  }
  // The repo wanting another token fails naming the setting, not the value.
  assert.match(texts[3] ?? '', /MODEL_SOURCE_UNAUTHORIZED.*HF_TOKEN/);
  // A generation that pulls on request (the held repo is pulled already: from the cache).
  const job = await call('POST', '/v1/generate', { model: 'org/held', prompt: 'x', steps: 2 });
  texts.push(await job.text());
  assert.equal(job.status, 200, texts.at(-1));
  texts.push(await (await call('GET', '/v1/admin/models')).text());
  texts.push(await (await call('GET', '/v1/models')).text());

  // Not vacuous: each token was sent, to its own host's API.
  assert.ok(hub.requests.some((r) => r.auth === `Bearer ${HF_TOKEN}`));
  assert.ok(hub.requests.some((r) => r.auth === `Bearer ${CIVITAI_TOKEN}`));
  const logDir = path.join(dataDir, 'logs');
  const logs = existsSync(logDir)
    ? readdirSync(logDir).map((f) => readFileSync(path.join(logDir, f), 'utf8'))
    : [];
  assert.ok(logs.join('').length > 0, 'the server wrote a log file');
  const everything = [server.output(), ...logs, ...texts].join('\n');
  assert.match(everything, /org\/held/, 'the pulls were logged or shown at all');
  for (const token of [HF_TOKEN, CIVITAI_TOKEN]) {
    assert.ok(!everything.includes(token), `${token.slice(0, 4)}… leaked`);
  }
});
