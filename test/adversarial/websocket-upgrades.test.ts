import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { startAuthServer, type AuthServer } from '../accounts/helpers.ts';

/** Sends a raw upgrade request; resolves with what came back and whether the server closed. */
async function upgrade(
  base: string,
  route: string,
  headers: Record<string, string> = {},
): Promise<{ head: string; closed: boolean }> {
  const url = new URL(base);
  const socket: Socket = connect(Number(url.port), url.hostname);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const lines = [
    `GET ${route} HTTP/1.1`,
    `Host: ${url.host}`,
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  // The server must end the exchange itself; the deadline only turns a leak into a failure.
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 3000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  socket.destroy();
  return { head: received.split('\r\n')[0] ?? '', closed };
}

let server: AuthServer;
before(async () => {
  server = await startAuthServer('sqlite');
});
after(async () => {
  await server.stop();
});

test('a refused WebSocket upgrade (no key, bad key) is answered 401 and its socket closed', async () => {
  for (const headers of [{}, { Authorization: 'Bearer sk_nope' }] as Record<string, string>[]) {
    const { head, closed } = await upgrade(server.base, '/v1/events', headers);
    assert.match(head, /^HTTP\/1\.1 401/);
    assert.equal(closed, true, 'the server closed the socket');
  }
});

test('an upgrade on a route that is not a WebSocket is refused, not switched', async () => {
  const { key } = await server.createKey({ name: 'ws', credits: 1 });
  for (const route of ['/v1/models', '/v1/health/live', '/v1/nowhere']) {
    const { head, closed } = await upgrade(server.base, route, { Authorization: `Bearer ${key}` });
    assert.doesNotMatch(head, /^HTTP\/1\.1 101/, route);
    assert.match(head, /^HTTP\/1\.1 4\d\d/, route);
    assert.equal(closed, true, `${route}: the server closed the socket`);
  }
});

test('a good key still gets its WebSocket', async () => {
  const { key } = await server.createKey({ name: 'ws-ok', credits: 1 });
  const ws = new WebSocket(`${server.base.replace('http', 'ws')}/v1/events`, {
    headers: { Authorization: `Bearer ${key}` },
  });
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error('WebSocket refused'));
  });
  ws.close();
});

test('after many refused upgrades the server still stops promptly', async () => {
  await Promise.all(Array.from({ length: 50 }, () => upgrade(server.base, '/v1/events')));
  const started = Date.now();
  await server.pictor.app.close();
  assert.ok(Date.now() - started < 3000, `closed in ${Date.now() - started} ms`);
});
