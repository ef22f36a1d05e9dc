import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import {
  generateSecret,
  hashSecret,
  keyRefusal,
  visiblePrefix,
} from '../../src/accounts/api-key.ts';
import { credentialOf } from '../../src/accounts/authenticator.ts';
import { parseExpiry, parseKeyFields } from '../../src/accounts/key-fields.ts';
import { hashPassword, verifyPassword } from '../../src/accounts/passwords.ts';
import { redactUrl } from '../../src/accounts/redact-url.ts';
import { ProblemError } from '../../src/errors/index.ts';
import type { Job } from '../../src/jobs/job.ts';
import { costFunction } from '../../src/cli/compose-accounts.ts';
import { DEFAULT_CONFIG, loadConfig } from '../../src/config/index.ts';

test('secrets: sk_ + 256 random bits, stored as SHA-256, shown by a short prefix', () => {
  const a = generateSecret();
  const b = generateSecret();
  assert.match(a, /^sk_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b);
  assert.equal(Buffer.from(a.slice(3), 'base64url').length * 8, 256);
  assert.match(hashSecret(a), /^[0-9a-f]{64}$/);
  assert.equal(visiblePrefix(a), a.slice(0, 9));
  const key = {
    id: 'k',
    name: 'n',
    prefix: 'sk_x',
    scopes: ['generate' as const],
    credits: 0,
    rateLimit: 0,
    maxJobs: 0,
    expiresAt: null,
    active: true,
    priority: 0,
    userId: null,
    createdAt: 0,
  };
  assert.equal(keyRefusal(key, 10), undefined);
  assert.match(keyRefusal({ ...key, active: false }, 10) ?? '', /deactivated/);
  assert.match(keyRefusal({ ...key, expiresAt: 10 }, 10) ?? '', /expired/);
});

test('key fields: snake_case, ranges named by field, credits only at creation', () => {
  assert.deepEqual(
    parseKeyFields(
      {
        name: ' a ',
        credits: '5',
        rate_limit: 10,
        max_jobs: 2,
        scopes: 'admin,generate',
        priority: 3,
      },
      'create',
    ),
    {
      name: 'a',
      credits: 5,
      rateLimit: 10,
      maxJobs: 2,
      scopes: ['generate', 'admin'],
      priority: 3,
    },
  );
  const field = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof ProblemError);
      return e.field;
    }
    return undefined;
  };
  assert.equal(
    field(() => parseKeyFields({}, 'create')),
    'name',
  );
  assert.equal(
    field(() => parseKeyFields({ name: 'x', credits: -1 }, 'create')),
    'credits',
  );
  assert.equal(
    field(() => parseKeyFields({ credits: 1 }, 'update')),
    'credits',
  );
  assert.equal(
    field(() => parseKeyFields({ scopes: ['root'] }, 'update')),
    'scopes',
  );
  assert.equal(
    field(() => parseKeyFields({ priority: 11 }, 'update')),
    'priority',
  );
  assert.equal(
    field(() => parseKeyFields({ bogus: 1 } as never, 'update')),
    'bogus',
  );
  assert.equal(
    field(() => parseKeyFields({ expires_at: 'soon' }, 'update')),
    'expires_at',
  );
  assert.deepEqual(parseKeyFields({ active: 'false' }, 'update'), { active: false });
  assert.equal(parseExpiry('30d', 0), 30 * 86_400_000);
  assert.equal(parseExpiry('2030-01-02T00:00:00Z'), Date.UTC(2030, 0, 2));
  assert.equal(parseExpiry(null), null);
});

test('passwords: scrypt, salted, verified in constant time', async () => {
  const hash = await hashPassword('correct horse battery');
  assert.match(hash, /^scrypt\$16384\$8\$1\$/);
  assert.notEqual(hash, await hashPassword('correct horse battery'));
  assert.equal(await verifyPassword('correct horse battery', hash), true);
  assert.equal(await verifyPassword('wrong horse battery', hash), false);
  assert.equal(await verifyPassword('x', 'garbage'), false);
});

test('credentials: Bearer, Basic (key as password, or as user), and ?token= on GET or where a route allows', () => {
  const req = (
    headers: Record<string, string>,
    method = 'GET',
    query: object = {},
    config: object = {},
  ) => ({ headers, method, query, routeOptions: { config } }) as unknown as FastifyRequest;
  const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
  assert.equal(credentialOf(req({ authorization: 'Bearer sk_a' })), 'sk_a');
  assert.equal(credentialOf(req({ authorization: 'bearer  sk_a ' })), 'sk_a');
  assert.equal(credentialOf(req({ authorization: basic('user:sk_b') })), 'sk_b');
  assert.equal(credentialOf(req({ authorization: basic('sk_c:') })), 'sk_c');
  assert.equal(credentialOf(req({ authorization: 'Digest x' })), undefined);
  assert.equal(credentialOf(req({}, 'GET', { token: 'sk_d' })), 'sk_d');
  assert.equal(credentialOf(req({}, 'POST', { token: 'sk_d' })), undefined);
  assert.equal(credentialOf(req({}, 'POST', { token: 'sk_d' }, { queryToken: true })), 'sk_d');
  assert.equal(
    redactUrl('/v1/txt2img?prompt=a&token=sk_secret&n=1'),
    '/v1/txt2img?prompt=a&token=[redacted]&n=1',
  );
});

test('config: cost per image with a per-model override; a bad admin key or cost is refused', () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'pictor-cost-'));
  const config = loadConfig({
    cwd,
    env: {
      PICTOR_CREDITS__COST_PER_IMAGE: '2',
      PICTOR_MODELS__LIST: JSON.stringify([
        { name: 'tiny', path: 'm/tiny' },
        { name: 'sdxl', path: 'm/sdxl', cost: 5 },
      ]),
    },
  });
  const cost = costFunction(config);
  const job = (model: string, n: number) => ({ model, params: { n } }) as unknown as Job;
  assert.equal(cost(job('tiny', 1)), 2);
  assert.equal(cost(job('tiny', 3)), 6);
  assert.equal(cost(job('sdxl', 2)), 10);
  assert.equal(DEFAULT_CONFIG.credits.costPerImage, 1);
  assert.equal(DEFAULT_CONFIG.auth.enabled, true);
  assert.throws(() => loadConfig({ cwd, env: { PICTOR_ADMIN_KEY: 'short' } }), /adminKey/);
  assert.throws(
    () =>
      loadConfig({
        cwd,
        env: { PICTOR_MODELS__LIST: JSON.stringify([{ name: 'tiny', path: 'x', cost: -1 }]) },
      }),
    /cost/,
  );
});
