// A cluster of real `pictor api` and `pictor worker` processes for one test: its own PostgreSQL
// database (on the shared server, or a private one) and its own Redis key prefix on the shared
// Redis. Everything it started is killed and dropped after the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { childEnv } from './child-env.ts';
import { POSTGRES_URL, runStatement } from './databases.ts';
import { REDIS_URL, uniquePrefix, wipePrefix } from './redis.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The admin key every node of a test cluster shares (`adminKey`). */
export const ADMIN_KEY = 'sk_cluster_test_admin_key_000000';

export interface ApiNode {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:port` */
  readonly url: string;
}

export interface ClusterOptions {
  /** The PostgreSQL server (maintenance URL); the shared one when absent. */
  readonly serverUrl?: string;
  /** The cluster's Redis: a test's private server; the shared one (a key prefix) when absent. */
  readonly redisUrl?: string;
  /** Lease of a worker node's jobs (`cluster.leaseMs`). */
  readonly leaseMs?: number;
  /** Settings every node gets (`PICTOR_*`), over the defaults here. */
  readonly env?: Record<string, string>;
}

export interface TestCluster {
  readonly databaseUrl: string;
  readonly prefix: string;
  api(): Promise<ApiNode>;
  worker(env?: Record<string, string>): Promise<ChildProcess>;
  /** kill -9, resolved once the process is gone. */
  kill(child: ChildProcess): Promise<void>;
  /** One SQL query on the cluster's database. */
  query<T extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
}

export async function startCluster(
  t: { after: (fn: () => Promise<void>) => void },
  options: ClusterOptions = {},
): Promise<TestCluster> {
  const serverUrl = options.serverUrl ?? POSTGRES_URL;
  const redisUrl = options.redisUrl ?? REDIS_URL;
  const name = `pictor_api_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await runStatement(`CREATE DATABASE ${name}`, serverUrl);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const prefix = uniquePrefix('api');
  const children: ChildProcess[] = [];
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  pool.on('error', () => undefined); // a private server stopped on purpose
  const debug = process.env['CLUSTER_TEST_DEBUG'] !== undefined;
  const env = (extra: Record<string, string> = {}) =>
    childEnv({
      PICTOR_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'pictor-node-')),
      PICTOR_DATABASE__DRIVER: 'postgres',
      PICTOR_DATABASE__URL: databaseUrl,
      PICTOR_REDIS__URL: redisUrl,
      PICTOR_REDIS__PREFIX: prefix,
      PICTOR_STORAGE__BLOBS: 'postgres',
      PICTOR_WORKERS__ENGINE: 'fake',
      // Long enough that a worker node stalled a few seconds on a loaded machine stays advertised
      // (its advertisement lives one lease); no test here waits for a lease to expire.
      PICTOR_CLUSTER__LEASE_MS: String(options.leaseMs ?? 15_000),
      PICTOR_ADMIN_KEY: ADMIN_KEY,
      PICTOR_WEBHOOKS__SECRET: 'whsec_Y2x1c3Rlci10ZXN0LXNlY3JldC0wMDAwMDA=',
      PICTOR_LINKS__SECRET: 'cluster-test-link-secret-000000000000',
      PICTOR_LOG__LEVEL: debug ? 'info' : 'warn',
      PICTOR_LOG__FILE: '',
      PICTOR_SERVER__SHUTDOWN_TIMEOUT_SECONDS: '5',
      ...options.env,
      ...extra,
    });
  /** Spawns `pictor <role>`; resolves with its first stdout line that matches `ready`. */
  const spawnNode = (
    role: string,
    args: string[],
    ready: RegExp,
    extra?: Record<string, string>,
  ): Promise<{ child: ChildProcess; match: RegExpMatchArray }> => {
    const child = spawn(process.execPath, ['bin/pictor.js', role, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env(extra),
    });
    children.push(child);
    let out = '';
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (debug) process.stderr.write(`[${role} ${child.pid}] ${chunk.toString()}`);
    });
    return new Promise((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (debug) process.stderr.write(`[${role} ${child.pid}] ${chunk.toString()}`);
        const match = out.match(ready);
        if (match) resolve({ child, match });
      });
      child.once('exit', (code) => reject(new Error(`${role} exited ${code}: ${out}${err}`)));
    });
  };
  t.after(async () => {
    const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(alive.map((c) => killNow(c)));
    await pool.end();
    if (redisUrl === REDIS_URL) await wipePrefix(prefix);
    await runStatement(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, serverUrl).catch(
      () => undefined,
    );
  });
  return {
    databaseUrl,
    prefix,
    async api() {
      const { child, match } = await spawnNode(
        'api',
        ['--port', '0', '--host', '127.0.0.1'],
        /listening on (http:\/\/[\d.]+:\d+)/,
      );
      return { child, url: match[1] ?? '' };
    },
    async worker(extra) {
      return (await spawnNode('worker', [], /Pictor worker node/, extra)).child;
    },
    kill: killNow,
    async query<T extends pg.QueryResultRow>(text: string, values: unknown[] = []) {
      return (await pool.query<T>(text, values)).rows;
    },
  };
}

function killNow(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  return exited;
}

/** One Server-Sent Event as a client reads it. */
export interface SseEvent {
  readonly id: number;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/**
 * Reads a job's SSE stream until its final event, the server closing it, or `signal`; calls
 * `onEvent` for each event as it arrives. Resolves with how the stream ended.
 */
export async function readSse(
  url: string,
  headers: Record<string, string>,
  onEvent: (event: SseEvent) => void,
  signal?: AbortSignal,
): Promise<'final' | 'closed'> {
  const response = await fetch(url, { headers, ...(signal ? { signal } : {}) });
  if (response.status !== 200 || !response.body)
    throw new Error(`SSE ${url}: ${response.status} ${await response.text()}`);
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const field = (name: string): string | undefined =>
          block
            .split('\n')
            .find((line) => line.startsWith(`${name}: `))
            ?.slice(name.length + 2);
        const type = field('event');
        if (type === undefined) continue; // a keep-alive comment
        const event: SseEvent = {
          id: Number(field('id')),
          type,
          data: JSON.parse(field('data') ?? '{}') as Record<string, unknown>,
        };
        onEvent(event);
        if (['completed', 'failed', 'cancelled', 'expired'].includes(type)) return 'final';
      }
    }
  } catch (error) {
    // A node killed mid-stream ends it with a socket error: to the client, the stream closed.
    if (signal?.aborted) throw error;
  }
  return 'closed';
}
