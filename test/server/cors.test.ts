// CORS (`server.corsOrigins`) on a real server: a browser's preflight from an allowed origin is
// answered without a key, an allowed origin can read the response and its headers, another
// origin gets no CORS headers, and with the setting empty (the default) there is no CORS at all.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Pictor } from '../../src/cli/compose.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

const ALLOWED = 'https://app.example.com';

async function serve(env: Record<string, string>): Promise<{ pictor: Pictor; base: string }> {
  const pictor = await startPictor(testConfig({ PICTOR_AUTH__ENABLED: 'true', ...env }), 5);
  return { pictor, base: await pictor.app.listen({ host: '127.0.0.1', port: 0 }) };
}

const preflight = (base: string, origin: string) =>
  fetch(`${base}/v1/generate`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });

describe('server.corsOrigins', () => {
  let server: { pictor: Pictor; base: string };
  before(async () => {
    server = await serve({ PICTOR_SERVER__CORS_ORIGINS: `${ALLOWED},http://localhost:3000` });
  });
  after(() => server.pictor.stop());

  test('a preflight from an allowed origin is answered, without a key', async () => {
    const response = await preflight(server.base, ALLOWED);
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), ALLOWED);
    assert.match(response.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(
      response.headers.get('access-control-allow-headers') ?? '',
      /authorization, content-type/,
    );
  });

  test('an allowed origin may read the answer and its headers', async () => {
    const response = await fetch(`${server.base}/v1/health/live`, {
      headers: { origin: 'http://localhost:3000' },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    assert.match(response.headers.get('access-control-expose-headers') ?? '', /x-request-id/);
    assert.match(response.headers.get('vary') ?? '', /origin/i);
  });

  test('another origin gets no CORS headers (the browser refuses it)', async () => {
    const response = await preflight(server.base, 'https://evil.example');
    assert.equal(response.headers.get('access-control-allow-origin'), null);
    const get = await fetch(`${server.base}/v1/health/live`, {
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(get.headers.get('access-control-allow-origin'), null);
  });
});

describe('without server.corsOrigins', () => {
  let server: { pictor: Pictor; base: string };
  before(async () => {
    server = await serve({});
  });
  after(() => server.pictor.stop());

  test('no CORS headers, and a preflight is not answered as allowed', async () => {
    const response = await preflight(server.base, ALLOWED);
    assert.equal(response.headers.get('access-control-allow-origin'), null);
    assert.notEqual(response.status, 204);
  });
});

test('a corsOrigins entry that is not an origin is a config error naming it', () => {
  assert.throws(
    () => testConfig({ PICTOR_SERVER__CORS_ORIGINS: 'https://app.example.com/path' }),
    (error: unknown) =>
      error instanceof ConfigError &&
      /server\.corsOrigins: 'https:\/\/app\.example\.com\/path'/.test(error.message),
  );
});
