// irgolic/stable-diffusion-api (seed 001) over real HTTP and a real WebSocket with the real ONNX
// engine (fixture models): the calls its README documents, made as its own test client makes
// them (`stable_diffusion_api/api/tests/base.py`: tasks, events decoded twice, blobs, tokens),
// with only the base URL, the key and the model name changed.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { Pictor } from '../../src/cli/compose.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';
import { halves, startDialectServer, type DialectServer } from './dialect-server.ts';

interface Event {
  event_type: string;
  task_id: string;
  reason?: string;
  result?: { blob_url: string; parameters_used: Record<string, unknown> };
}

/** A WebSocket to `/events`, its messages decoded as irgolic's clients do: `json.loads` twice. */
async function events(base: string, token: string | undefined) {
  const url = `${base.replace('http', 'ws')}/events${token === undefined ? '' : `?token=${token}`}`;
  const socket = new WebSocket(url);
  const queue: Event[] = [];
  const waiting: ((event: Event) => void)[] = [];
  socket.addEventListener('message', (message) => {
    const event = JSON.parse(JSON.parse(String(message.data)) as string) as Event;
    const next = waiting.shift();
    if (next) next(event);
    else queue.push(event);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason })),
  );
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve);
    socket.addEventListener('error', reject);
    void closed.then(resolve);
  });
  return {
    closed,
    /** The next event (blocks until one arrives, as `websocket.recv()`). */
    recv: (): Promise<Event> => {
      const queued = queue.shift();
      return queued ? Promise.resolve(queued) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () => socket.close(),
  };
}

/** irgolic's `AppClient`: every call carries `Authorization: Bearer <token>` once set. */
function appClient(base: string, token?: string) {
  const headers: Record<string, string> =
    token === undefined ? {} : { authorization: `Bearer ${token}` };
  return {
    get: (path: string) => fetch(base + path, { headers }),
    delete: (path: string) => fetch(base + path, { method: 'DELETE', headers }),
    postJson: (path: string, json: unknown) =>
      fetch(base + path, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(json),
      }),
    /** `files={"blob_data": ("filename", io.BytesIO(data), "image/png")}` */
    postBlob: (data: Buffer) => {
      const form = new FormData();
      form.append('blob_data', new Blob([new Uint8Array(data)], { type: 'image/png' }), 'filename');
      return fetch(base + '/blob', { method: 'POST', headers, body: form });
    },
  };
}

type Client = ReturnType<typeof appClient>;

/** base.py's `assert_poll_status`: polls `GET /task/{id}` until it answers the final event. */
async function pollUntilFinal(client: Client, taskId: string): Promise<Event> {
  for (;;) {
    const response = await client.get(`/task/${taskId}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-cache, no-store');
    const event = (await response.json()) as Event;
    assert.equal(event.task_id, taskId);
    if (event.event_type === 'finished' || event.event_type === 'aborted') return event;
    assert.ok(['pending', 'started'].includes(event.event_type), event.event_type);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The path of a blob URL (built from the public URL) on this server, as base.py's `get_blob`. */
const pathOf = (url: string): string => new URL(url).pathname;

describe('stable-diffusion-api (irgolic) as its README and test client call it', () => {
  let server: DialectServer;
  let key: string;
  let client: Client;
  const common = {
    model: 'sd15',
    prompt: 'corgi wearing a top hat',
    steps: 2,
    safety_filter: false,
  };

  before(async () => {
    server = await startDialectServer();
    key = await server.createKey();
    client = appClient(server.base, key);
  });
  after(() => server.stop());

  /** base.py's `post_task`: POST /task, then pending → started → finished on the socket. */
  async function postTask(
    params: Record<string, unknown>,
    ws: Awaited<ReturnType<typeof events>>,
  ): Promise<Event> {
    const response = await client.postJson('/task', params);
    assert.equal(response.status, 200, await response.clone().text());
    const taskId = (await response.json()) as string;
    assert.equal(typeof taskId, 'string');
    assert.deepEqual(await ws.recv(), { event_type: 'pending', task_id: taskId });
    assert.deepEqual(await ws.recv(), { event_type: 'started', task_id: taskId });
    const finished = await ws.recv();
    assert.equal(finished.event_type, 'finished', JSON.stringify(finished));
    assert.equal(finished.task_id, taskId);
    assert.deepEqual(await pollUntilFinal(client, taskId), finished);
    return finished;
  }

  test('txt2img → blob → img2img → inpaint, with events over the WebSocket', async () => {
    const ws = await events(server.base, key);
    try {
      const first = await postTask({ ...common, params_type: 'txt2img' }, ws);
      const used = first.result?.parameters_used ?? {};
      assert.equal(used['params_type'], 'txt2img');
      assert.equal(used['model'], 'sd15');
      assert.equal(used['prompt'], common.prompt);
      assert.equal(used['negative_prompt'], null);
      assert.equal(used['steps'], 2);
      assert.equal(used['safety_filter'], false);
      assert.equal(typeof used['seed'], 'number', 'the seed is set after randomisation');
      assert.equal(typeof used['guidance'], 'number');
      assert.equal(typeof used['scheduler'], 'string');
      assert.equal(typeof used['width'], 'number');
      assert.equal(typeof used['height'], 'number');

      const generated = await fetch(server.base + pathOf(first.result?.blob_url ?? ''));
      assert.equal(generated.status, 200, 'a blob URL needs no key');
      assert.equal(generated.headers.get('content-type'), 'image/png');
      const imgBytes = Buffer.from(await generated.arrayBuffer());
      assert.equal((await sharp(imgBytes).metadata()).format, 'png');

      const upload = await client.postBlob(imgBytes);
      assert.equal(upload.status, 200);
      const uploadedBlobUrl = (await upload.json()) as string;
      assert.match(uploadedBlobUrl, /\/blob\/[^/]+$/);
      const back = await fetch(server.base + pathOf(uploadedBlobUrl));
      assert.deepEqual(Buffer.from(await back.arrayBuffer()), imgBytes);

      const second = await postTask(
        { ...common, params_type: 'img2img', initial_image: uploadedBlobUrl, seed: 42 },
        ws,
      );
      const used2 = second.result?.parameters_used ?? {};
      assert.equal(used2['params_type'], 'img2img');
      assert.equal(used2['initial_image'], uploadedBlobUrl, 'the URL sent is echoed');
      assert.equal(used2['seed'], 42);
      assert.equal(used2['strength'], 0.8, "irgolic's default strength");
      assert.equal('width' in used2, false);

      // The previous result as the mask, as base.py does.
      const third = await postTask(
        {
          ...common,
          params_type: 'inpaint',
          initial_image: uploadedBlobUrl,
          mask: second.result?.blob_url,
        },
        ws,
      );
      const used3 = third.result?.parameters_used ?? {};
      assert.equal(used3['params_type'], 'inpaint');
      assert.equal(used3['mask'], second.result?.blob_url);
      const inpainted = await fetch(server.base + pathOf(third.result?.blob_url ?? ''));
      assert.equal(inpainted.status, 200);
    } finally {
      ws.close();
    }
  });

  test('params_type may be left out: the images given tell the kind', async () => {
    const image = await halves([255, 0, 0], [0, 0, 255]);
    const uploaded = (await (await client.postBlob(image)).json()) as string;
    const response = await client.postJson('/task', { ...common, initial_image: uploaded });
    const event = await pollUntilFinal(client, (await response.json()) as string);
    assert.equal(event.result?.parameters_used['params_type'], 'img2img');
  });

  test('GET /txt2img?…&token= answers JSON with the blob URL and the parameters used', async () => {
    const query = new URLSearchParams({
      ...common,
      steps: '2',
      safety_filter: 'false',
      token: key,
    });
    const response = await fetch(`${server.base}/txt2img?${query.toString()}`);
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
    const body = (await response.json()) as NonNullable<Event['result']>;
    assert.equal(body.parameters_used['params_type'], 'txt2img');
    assert.equal(body.parameters_used['steps'], 2);
    assert.equal(body.parameters_used['safety_filter'], false);
    assert.equal((await fetch(server.base + pathOf(body.blob_url))).status, 200);
  });

  test('?token= works on POST and DELETE too; GET /img2img and /inpaint wait as /txt2img', async () => {
    // The README: "The token is passed either among query parameters (/txt2img?token=...), or
    // via the Authorization header" — for every call, not only the browser links.
    const form = new FormData();
    const image = await halves([255, 0, 0], [0, 0, 255]);
    form.append('blob_data', new Blob([new Uint8Array(image)], { type: 'image/png' }), 'a.png');
    const blob = await fetch(`${server.base}/blob?token=${key}`, { method: 'POST', body: form });
    assert.equal(blob.status, 200, await blob.clone().text());
    const blobUrl = (await blob.json()) as string;

    const task = await fetch(`${server.base}/task?token=${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...common, steps: 50 }),
    });
    assert.equal(task.status, 200, await task.clone().text());
    const taskId = (await task.json()) as string;
    const deleted = await fetch(`${server.base}/task/${taskId}?token=${key}`, {
      method: 'DELETE',
    });
    assert.equal(deleted.status, 204);
    assert.equal((await pollUntilFinal(client, taskId)).event_type, 'aborted');

    for (const kind of ['img2img', 'inpaint']) {
      const query = new URLSearchParams({
        ...common,
        steps: '2',
        safety_filter: 'false',
        initial_image: blobUrl,
        ...(kind === 'inpaint' ? { mask: blobUrl } : {}),
        token: key,
      });
      const response = await fetch(`${server.base}/${kind}?${query.toString()}`);
      assert.equal(response.status, 200, `${kind}: ${await response.clone().text()}`);
      const body = (await response.json()) as NonNullable<Event['result']>;
      assert.equal(body.parameters_used['params_type'], kind);
      assert.equal(body.parameters_used['initial_image'], blobUrl);
      assert.equal((await fetch(server.base + pathOf(body.blob_url))).status, 200);
    }

    // Without a key, or with a wrong one, the answer is FastAPI's 401.
    const refused = await fetch(`${server.base}/task?token=sk_not_a_key`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(common),
    });
    assert.equal(refused.status, 401);
    assert.equal(typeof ((await refused.json()) as { detail: unknown }).detail, 'string');
    // A URL is logged and kept in histories: an admin key is still refused there.
    const admin = await fetch(`${server.base}/task?token=${server.adminKey}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(common),
    });
    assert.equal(admin.status, 401);
  });

  test('scheduler plms | ddim | k-lms; another is a 422 in pydantic shape', async () => {
    for (const scheduler of ['plms', 'ddim', 'k-lms']) {
      const query = new URLSearchParams({
        ...common,
        steps: '2',
        safety_filter: 'false',
        scheduler,
      });
      const response = await client.get(`/txt2img?${query.toString()}`);
      assert.equal(response.status, 200, `${scheduler}: ${await response.clone().text()}`);
      const body = (await response.json()) as NonNullable<Event['result']>;
      assert.equal(body.parameters_used['scheduler'], scheduler);
    }
    const bad = await client.get(`/txt2img?prompt=x&scheduler=euler`);
    assert.equal(bad.status, 422);
    const detail = ((await bad.json()) as { detail: { loc: string[] }[] }).detail;
    assert.deepEqual(detail[0]?.loc, ['query', 'scheduler']);
  });

  test('an unknown parameter is ignored with a Warning; a known one out of range is a 422', async () => {
    const response = await client.get('/txt2img?prompt=x&steps=2&model=sd15&pipeline=lpw');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('warning') ?? '', /ignored unknown parameter\(s\): pipeline/);
    const tooMany = await client.postJson('/task', { prompt: 'x', steps: 100000 });
    assert.equal(tooMany.status, 422);
    const detail = ((await tooMany.json()) as { detail: { loc: string[]; msg: string }[] }).detail;
    assert.deepEqual(detail[0]?.loc, ['body', 'steps']);
    const missing = await client.postJson('/task', { params_type: 'img2img', prompt: 'x' });
    assert.equal(missing.status, 422);
    assert.match(JSON.stringify(await missing.json()), /initial_image/);
  });

  test('no token: 401 in FastAPI shape; an unknown task: 404 Task not found', async () => {
    const response = await fetch(`${server.base}/txt2img?prompt=x`);
    assert.equal(response.status, 401);
    assert.equal(typeof ((await response.json()) as { detail: string }).detail, 'string');
    const missing = await client.get('/task/00000000-0000-0000-0000-000000000000');
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { detail: 'Task not found' });
    const otherKey = appClient(server.base, await server.createKey());
    const created = await client.postJson('/task', { ...common });
    const taskId = (await created.json()) as string;
    assert.equal((await otherKey.get(`/task/${taskId}`)).status, 404, "another key's task");
    await pollUntilFinal(client, taskId);
  });

  test('DELETE /task/{id} cancels: 204, then aborted with its reason on the socket and poll', async () => {
    const ws = await events(server.base, key);
    try {
      const response = await client.postJson('/task', { ...common, steps: 50 });
      const taskId = (await response.json()) as string;
      assert.deepEqual(await ws.recv(), { event_type: 'pending', task_id: taskId });
      const deleted = await client.delete(`/task/${taskId}`);
      assert.equal(deleted.status, 204);
      let event = await ws.recv();
      if (event.event_type === 'started') event = await ws.recv();
      const aborted = { event_type: 'aborted', task_id: taskId, reason: 'Task cancelled by user' };
      assert.deepEqual(event, aborted);
      assert.deepEqual(await pollUntilFinal(client, taskId), aborted);
    } finally {
      ws.close();
    }
  });

  test('dropping the connection of GET /txt2img cancels its task', async () => {
    const ws = await events(server.base, key);
    try {
      const query = new URLSearchParams({
        ...common,
        steps: '150',
        safety_filter: 'false',
        token: key,
      });
      const request = http.get(`${server.base}/txt2img?${query.toString()}`);
      request.on('error', () => undefined);
      const pending = await ws.recv();
      assert.equal(pending.event_type, 'pending');
      request.destroy();
      let event = await ws.recv();
      if (event.event_type === 'started') event = await ws.recv();
      assert.equal(event.event_type, 'aborted', JSON.stringify(event));
      assert.equal(event.task_id, pending.task_id);
    } finally {
      ws.close();
    }
  });

  test('initial_image URLs of other servers are refused unless configured', async () => {
    const response = await client.postJson('/task', {
      ...common,
      initial_image: 'http://example.com/corgi.png',
    });
    assert.equal(response.status, 422);
    assert.match(JSON.stringify(await response.json()), /irgolic\.fetchImageUrls/);
    const forged = await client.postJson('/task', {
      ...common,
      initial_image: `${server.base}/blob/u.up_x.AAAAAAAAAAAAAAAAAAAAAA`,
    });
    assert.equal(forged.status, 422, 'a blob URL this server did not sign is not its own');
    assert.equal((await fetch(`${server.base}/blob/u.up_x.AAAAAAAAAAAAAAAAAAAAAA`)).status, 404);
  });

  test('POST /token/all is refused without public access; sign-up is off by default', async () => {
    const token = await fetch(`${server.base}/token/all`, { method: 'POST' });
    assert.equal(token.status, 403);
    assert.deepEqual(await token.json(), { detail: 'Public token is disabled' });
    const user = await fetch(`${server.base}/user/corgi?password=corgi-password`, {
      method: 'POST',
    });
    assert.equal(user.status, 403);
    assert.deepEqual(await user.json(), { detail: 'Signup is disabled' });
  });
});

describe('stable-diffusion-api with ENABLE_PUBLIC_ACCESS and ENABLE_SIGNUP', () => {
  let server: DialectServer;
  let images: http.Server;
  let imageBase: string;
  const common = { model: 'sd15', prompt: 'corgi', steps: 2 };

  before(async () => {
    server = await startDialectServer({
      PICTOR_IRGOLIC__PUBLIC_ACCESS: 'true',
      PICTOR_IRGOLIC__FETCH_IMAGE_URLS: 'true',
      PICTOR_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES: 'false',
      PICTOR_AUTH__SIGNUP: 'true',
      PICTOR_AUTH__KEYLESS_RATE_LIMIT: '0',
    });
    const png = await halves([0, 255, 0], [0, 0, 0]);
    images = http.createServer((_request, response) => response.end(png));
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
    imageBase = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
  });
  after(async () => {
    images.close();
    await server.stop();
  });

  test('a public token from POST /token/all works for tasks and sees its own events only', async () => {
    const tokenResponse = await fetch(`${server.base}/token/all`, { method: 'POST' });
    assert.equal(tokenResponse.status, 200);
    const { access_token: token, token_type } = (await tokenResponse.json()) as {
      access_token: string;
      token_type: string;
    };
    assert.equal(token_type, 'bearer');
    const ws = await events(server.base, token);
    const otherToken = (
      (await (await fetch(`${server.base}/token/all`, { method: 'POST' })).json()) as {
        access_token: string;
      }
    ).access_token;
    const other = await events(server.base, otherToken);
    try {
      const client = appClient(server.base, token);
      const taskId = (await (await client.postJson('/task', common)).json()) as string;
      assert.deepEqual(await ws.recv(), { event_type: 'pending', task_id: taskId });
      assert.deepEqual(await ws.recv(), { event_type: 'started', task_id: taskId });
      assert.equal((await ws.recv()).event_type, 'finished');
      // No token is needed with public access (the socket is what needs one).
      const anonymous = appClient(server.base);
      const keyless = (await (await anonymous.postJson('/task', common)).json()) as string;
      assert.equal((await pollUntilFinal(anonymous, keyless)).event_type, 'finished');
      // The other session's socket saw none of that: its first event is its own task's.
      const otherClient = appClient(server.base, otherToken);
      const own = (await (await otherClient.postJson('/task', common)).json()) as string;
      assert.deepEqual(await other.recv(), { event_type: 'pending', task_id: own });
      await pollUntilFinal(otherClient, own);
    } finally {
      ws.close();
      other.close();
    }
  });

  test('a WebSocket without a token is closed with 1008, as irgolic does', async () => {
    const ws = await events(server.base, undefined);
    assert.deepEqual(await ws.closed, { code: 1008, reason: 'Missing token' });
  });

  test("POST /user (the README's sign-up) takes the username and password as JSON or a form", async () => {
    const json = await fetch(`${server.base}/user`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'beagle', password: 'beagle-password-1' }),
    });
    assert.equal(json.status, 200, await json.clone().text());
    assert.deepEqual(await json.json(), { username: 'beagle' });
    const form = await fetch(`${server.base}/user`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'poodle', password: 'poodle-password-1' }),
    });
    assert.equal(form.status, 200, await form.clone().text());
    const token = await fetch(`${server.base}/token/poodle`, {
      method: 'POST',
      body: new URLSearchParams({ password: 'poodle-password-1' }),
    });
    assert.equal(token.status, 200);
    assert.equal(((await token.json()) as { token_type: string }).token_type, 'bearer');
  });

  test('POST /user/{username}?password= signs up; POST /token gives a token that generates', async () => {
    const signup = await fetch(`${server.base}/user/corgi?password=corgi-password-1`, {
      method: 'POST',
    });
    assert.equal(signup.status, 200, await signup.clone().text());
    assert.deepEqual(await signup.json(), { username: 'corgi' });
    const form = await fetch(`${server.base}/token`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'corgi', password: 'corgi-password-1' }),
    });
    assert.equal(form.status, 200, await form.clone().text());
    const { access_token: token } = (await form.json()) as { access_token: string };
    const wrong = await fetch(`${server.base}/token/corgi`, {
      method: 'POST',
      body: new URLSearchParams({ password: 'not it' }),
    });
    assert.equal(wrong.status, 401);
    assert.deepEqual(await wrong.json(), { detail: 'Could not validate credentials' });
    const byName = await fetch(`${server.base}/token/corgi`, {
      method: 'POST',
      body: new URLSearchParams({ password: 'corgi-password-1' }),
    });
    assert.equal(byName.status, 200);
    // A user's key starts without credits (an admin grants them): the token is a real key.
    const generate = await appClient(server.base, token).postJson('/task', common);
    assert.equal(generate.status, 402, await generate.clone().text());
    const bad = await appClient(server.base, 'sk_not_a_key').postJson('/task', common);
    assert.equal(bad.status, 401);
  });

  test('other servers’ image URLs are fetched through the SSRF guard', async () => {
    const client = appClient(server.base);
    const response = await client.postJson('/task', {
      ...common,
      initial_image: `${imageBase}/corgi.png`,
    });
    assert.equal(response.status, 422);
    assert.match(JSON.stringify(await response.json()), /private, loopback or link-local/);
  });
});

describe('stable-diffusion-api without auth, fetching image URLs', () => {
  let pictor: Pictor;
  let base: string;
  let images: http.Server;
  let imageBase: string;

  before(async () => {
    pictor = await startPictor(
      testConfig({
        PICTOR_IRGOLIC__FETCH_IMAGE_URLS: 'true',
        PICTOR_IRGOLIC__IMAGE_URL_MAX_MB: '1',
        PICTOR_IRGOLIC__IMAGE_URL_TIMEOUT_MS: '500',
      }),
      5,
    );
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
    const png = await halves([0, 255, 0], [0, 0, 0]);
    images = http.createServer((request, response) => {
      if (request.url === '/big.png') response.end(Buffer.alloc(2 * 1024 * 1024, 1));
      else if (request.url === '/slow.png') setTimeout(() => response.end(png), 5000).unref();
      else if (request.url === '/moved.png') response.writeHead(302, { location: '/a.png' }).end();
      else response.end(png);
    });
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
    imageBase = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
  });
  after(async () => {
    images.closeAllConnections();
    images.close();
    await pictor.stop();
  });

  test('a fetched initial_image runs img2img; too large, too slow or redirected is a 422', async () => {
    const client = appClient(base);
    const ok = await client.postJson('/task', {
      prompt: 'corgi',
      initial_image: `${imageBase}/a.png`,
    });
    assert.equal(ok.status, 200, await ok.clone().text());
    const event = await pollUntilFinal(client, (await ok.json()) as string);
    assert.equal(event.event_type, 'finished', JSON.stringify(event));
    assert.equal(event.result?.parameters_used['initial_image'], `${imageBase}/a.png`);
    for (const [file, why] of [
      ['big.png', /larger than 1048576 bytes/],
      ['slow.png', /no answer within 500 ms/],
      ['moved.png', /302 \(redirects are not followed\)/],
    ] as const) {
      const refused = await client.postJson('/task', {
        prompt: 'corgi',
        initial_image: `${imageBase}/${file}`,
      });
      assert.equal(refused.status, 422, file);
      assert.match(JSON.stringify(await refused.json()), why);
    }
  });

  test('without auth any token works, and /token/all hands one out', async () => {
    const token = await fetch(`${base}/token/all`, { method: 'POST' });
    assert.equal(token.status, 200);
    const { access_token } = (await token.json()) as { access_token: string };
    const ws = await events(base, access_token);
    try {
      const client = appClient(base, access_token);
      const taskId = (await (await client.postJson('/task', { prompt: 'x' })).json()) as string;
      assert.deepEqual(await ws.recv(), { event_type: 'pending', task_id: taskId });
    } finally {
      ws.close();
    }
  });
});
