// docker-compose.yml and the Dockerfile cannot be run here (no container daemon), so what can be
// checked without one is checked: every Pictor service's environment, as compose would pass it
// (defaults of `${VAR:-default}` filled in), is a valid config for the role its command runs, and
// the files and commands the image relies on exist. A renamed setting or role fails here.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/index.ts';
import type { NodeRole } from '../../src/config/index.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');

interface ComposeService {
  readonly build?: string;
  readonly command?: readonly string[];
  readonly environment?: Record<string, string>;
  readonly healthcheck?: { readonly test: readonly string[] };
}

const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as { services: Record<string, ComposeService> };
const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

/** `${NAME:-default}` → default (or what `given` sets), as compose does with an unset NAME. */
function interpolate(value: string, given: Record<string, string>): string {
  return value.replace(
    /\$\{(\w+)(?::-([^}]*))?\}/g,
    (_, name: string, fallback?: string) => given[name] ?? fallback ?? '',
  );
}

const pictorServices = Object.entries(compose.services).filter(([, s]) => s.build === '.');

test('every Pictor service of docker-compose.yml is a valid config for the role it runs', () => {
  assert.deepEqual(pictorServices.map(([name]) => name).sort(), [
    'api-1',
    'api-2',
    'pictor',
    'worker',
  ]);
  // The compose file's own instructions set the admin key.
  const given = { PICTOR_ADMIN_KEY: 'sk_choose_a_long_secret_key_0000' };
  for (const [name, service] of pictorServices) {
    const role = (service.command?.[0] ?? 'serve') as NodeRole;
    assert.ok(['serve', 'api', 'worker'].includes(role), `${name}: command ${role}`);
    const env = Object.fromEntries(
      Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), given)]),
    );
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'pictor-compose-'));
    const config = loadConfig({ env: { ...env, PICTOR_DATA_DIR: cwd }, role, cwd });
    if (role !== 'serve') {
      assert.equal(config.database.driver, 'postgres', name);
      assert.equal(config.storage.blobs, 's3', name);
      assert.equal(config.redis.url, 'redis://redis:6379', name);
    }
  }
});

test('the cluster nodes share the secrets every node must sign alike', () => {
  const envs = pictorServices
    .filter(([, s]) => s.command?.[0] !== 'serve')
    .map(([, s]) => s.environment ?? {});
  for (const key of ['PICTOR_WEBHOOKS__SECRET', 'PICTOR_LINKS__SECRET', 'PICTOR_ADMIN_KEY']) {
    const values = new Set(envs.map((env) => env[key]));
    assert.equal(values.size, 1, `${key} is the same on every node`);
    assert.notEqual([...values][0], undefined, `${key} is set`);
  }
});

test('the image runs bin/pictor.js, copies what exists, and checks the readiness route', () => {
  assert.match(dockerfile, /ENTRYPOINT \["node", "bin\/pictor\.js"\]/);
  assert.ok(existsSync(path.join(ROOT, 'bin', 'pictor.js')));
  // `dist` is made by `npm run build` in the image's first stage; the rest must be in the repo.
  for (const [, from] of dockerfile.matchAll(/^COPY --from=build \/app\/(\S+) /gm)) {
    if (from === undefined || from === 'dist' || from === 'node_modules') continue;
    assert.ok(existsSync(path.join(ROOT, from)), `COPY ${from}`);
  }
  assert.match(dockerfile, /\/v1\/health\/ready/);
  const routes = readFileSync(path.join(ROOT, 'src', 'api', 'routes', 'health-routes.ts'), 'utf8');
  assert.match(routes, /\/v1\/health\/ready/);
});
