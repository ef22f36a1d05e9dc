import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { createPictor, type Pictor } from '../../src/cli/compose.ts';
import type { PictorConfig } from '../../src/config/index.ts';
import { openDatabase, type Database } from '../../src/store/index.ts';
import { POSTGRES_URL } from '../helpers/databases.ts';
import { testConfig } from '../helpers/pictor.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const MAIN = path.join(ROOT, 'src/cli/main.ts');

/** A fixed admin key for tests (what `PICTOR_ADMIN_KEY` does for automation). */
export const ADMIN_KEY = 'sk_test_admin_0123456789abcdefghijklmnopqrstuvwxyz';

/** A PostgreSQL database of its own (for servers in child processes, which take no schema). */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `pictor_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Environment selecting a database: SQLite under the data dir, or a PostgreSQL URL. */
export function databaseEnv(driver: 'sqlite' | 'postgres', url?: string): Record<string, string> {
  return driver === 'sqlite'
    ? {}
    : { PICTOR_DATABASE__DRIVER: 'postgres', PICTOR_DATABASE__URL: url ?? POSTGRES_URL };
}

/** An in-process server with auth on, listening on a loopback port, plus a handle on its database. */
export interface AuthServer {
  readonly pictor: Pictor;
  readonly config: PictorConfig;
  readonly base: string;
  /** A second connection to the server's database, for checking the ledger. */
  readonly db: Kysely<Database>;
  request(
    method: string,
    route: string,
    options?: { key?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  /** POST /v1/admin/keys with the admin key; returns the secret and the key's id. */
  createKey(fields: Record<string, unknown>): Promise<{ key: string; id: string }>;
  stop(): Promise<void>;
}

export async function startAuthServer(
  driver: 'sqlite' | 'postgres',
  env: Record<string, string> = {},
  fakeStepMs = 20,
): Promise<AuthServer> {
  const schema =
    driver === 'postgres'
      ? `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
      : undefined;
  const config = testConfig({
    PICTOR_AUTH__ENABLED: 'true',
    PICTOR_ADMIN_KEY: ADMIN_KEY,
    ...databaseEnv(driver),
    ...env,
  });
  const pictor = await createPictor(config, {
    logger: false,
    fakeStepMs,
    ...(schema === undefined ? {} : { databaseSchema: schema }),
  });
  await pictor.start();
  await pictor.workers.ready();
  const base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
  const db = await openDatabase({
    driver,
    url: config.database.url,
    ...(schema === undefined ? {} : { schema }),
  });
  const request: AuthServer['request'] = (method, route, options = {}) =>
    fetch(`${base}${route}`, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.key === undefined ? {} : { authorization: `Bearer ${options.key}` }),
        ...options.headers,
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  return {
    pictor,
    config,
    base,
    db,
    request,
    async createKey(fields) {
      const res = await request('POST', '/v1/admin/keys', { key: ADMIN_KEY, body: fields });
      if (res.status !== 201) throw new Error(`create key: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { key: string; id: string };
      return { key: body.key, id: body.id };
    },
    async stop() {
      await pictor.stop();
      await db.destroy();
      if (schema !== undefined) {
        const c = new pg.Client({ connectionString: POSTGRES_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await c.end();
      }
    },
  };
}

export async function waitFor<T>(
  fn: () => Promise<T | undefined>,
  ms = 15_000,
  what = 'condition',
): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const value = await fn();
    if (value !== undefined) return value;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `pictor serve` in a child process, with everything it prints captured. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly base: string;
  /** stdout and stderr so far (logs are JSON lines). */
  output(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
}

export function newDataDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'pictor-acct-'));
}

export async function spawnServer(
  dataDir: string,
  env: Record<string, string>,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--port', '0'], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      PICTOR_DATA_DIR: dataDir,
      PICTOR_WORKERS__ENGINE: 'fake',
      PICTOR_WORKERS__RESTART_DELAY_MS: '50',
      PICTOR_CONFIG: path.join(ROOT, 'test/helpers/empty.yaml'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let base: string;
  try {
    base = await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`server exited: ${output}`);
        return Promise.resolve(/Pictor listening on (http:\/\/[\d.:]+)/.exec(output)?.[1]);
      },
      20_000,
      'the server to listen',
    );
    // The worker loads its models after the API listens.
    await waitFor(
      async () => {
        const res = await fetch(`${base}/v1/health/ready`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      20_000,
      'the server to be ready',
    );
  } catch (error) {
    // A server that did not come up in time must not outlive the test (its pipes would keep
    // the test process, and so the whole run, waiting).
    child.kill('SIGKILL');
    throw error;
  }
  return { child, base, output: () => output, exited };
}
