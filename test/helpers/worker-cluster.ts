// `pictor worker` processes (fake engine) around real PostgreSQL (a fresh database per test) and
// Redis (a unique key prefix): what the cluster tests share.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { BusEventSink } from '../../src/jobs/bus-event-sink.ts';
import { DispatchFeed } from '../../src/jobs/dispatch-feed.ts';
import { JobLifecycle } from '../../src/jobs/job-lifecycle.ts';
import { dispatchItemOf } from '../../src/jobs/restore-dispatch-queue.ts';
import type { JobEvent } from '../../src/jobs/job-event.ts';
import type { Job } from '../../src/jobs/job.ts';
import { BullmqDispatchQueue } from '../../src/jobs/redis/bullmq-dispatch-queue.ts';
import { RedisEventBus } from '../../src/jobs/redis/redis-event-bus.ts';
import {
  KyselyJobRepository,
  KyselyTransitionStore,
  openDatabase,
  type Database,
} from '../../src/store/index.ts';
import { childEnv } from './child-env.ts';
import { POSTGRES_URL, runStatement } from './databases.ts';
import { makeJob } from './jobs.ts';
import { eventually, REDIS_URL, uniquePrefix, wipePrefix } from './redis.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
/** The workers' lease: short, so that lost jobs come back within a test's time. */
export const LEASE_MS = 1500;

export interface SharedStateOptions {
  /** The Redis of the cluster: the shared one (default), or a test's private server. */
  readonly redisUrl?: string;
  /** Workers refund through API keys' credits (the ledger) rather than not at all. */
  readonly auth?: boolean;
  /**
   * The workers' lease ({@link LEASE_MS} by default, short so that a killed worker's job comes
   * back soon). A test where no lease should lapse takes a longer one: a worker stalled past its
   * lease on a loaded machine loses its job, a retry that counts as an attempt.
   */
  readonly leaseMs?: number;
}

/**
 * A cluster's shared state for one test: its own database, Redis prefix, queue and bus; starts
 * `pictor worker` processes on it and plays the API node's part (submit, cancel).
 */
export async function sharedState(
  t: { after: (fn: () => Promise<void>) => void },
  options: SharedStateOptions = {},
) {
  const redisUrl = options.redisUrl ?? REDIS_URL;
  const leaseMs = options.leaseMs ?? LEASE_MS;
  const name = `pictor_cl_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await runStatement(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const db: Kysely<Database> = await openDatabase({ driver: 'postgres', url: databaseUrl });
  const prefix = uniquePrefix('cluster');
  const queue = new BullmqDispatchQueue({
    url: redisUrl,
    prefix,
    queueName: 'jobs',
    leaseMs,
    checkIntervalMs: leaseMs / 2,
  });
  const bus = new RedisEventBus({
    url: redisUrl,
    prefix,
    retainMs: 60_000,
    idleRetainMs: 60_000,
    maxEventsPerJob: 1000,
  });
  const events: JobEvent[] = [];
  const waiters = new Set<{
    jobId: string;
    match: (e: JobEvent) => boolean;
    resolve: (e: JobEvent) => void;
  }>();
  await bus.onAll((event) => {
    events.push(event);
    for (const waiter of waiters) {
      if (waiter.jobId !== event.jobId || !waiter.match(event)) continue;
      waiters.delete(waiter);
      waiter.resolve(event);
    }
  });
  const children: ChildProcess[] = [];
  t.after(async () => {
    const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(
      alive.map((c) => {
        const exited = new Promise((resolve) => c.once('exit', resolve));
        c.kill('SIGKILL');
        return exited;
      }),
    );
    await queue.close();
    await bus.close();
    await db.destroy();
    if (redisUrl === REDIS_URL) await wipePrefix(prefix);
    await runStatement(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
  const jobs = new KyselyJobRepository(db);

  /** Starts `pictor worker`; resolves once it says it takes jobs. */
  const worker = async (): Promise<ChildProcess> => {
    const child = spawn(process.execPath, ['bin/pictor.js', 'worker'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv({
        PICTOR_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'pictor-worker-')),
        PICTOR_DATABASE__DRIVER: 'postgres',
        PICTOR_DATABASE__URL: databaseUrl,
        PICTOR_REDIS__URL: redisUrl,
        PICTOR_REDIS__PREFIX: prefix,
        PICTOR_STORAGE__BLOBS: 'postgres',
        PICTOR_WORKERS__ENGINE: 'fake',
        PICTOR_CLUSTER__LEASE_MS: String(leaseMs),
        PICTOR_AUTH__ENABLED: String(options.auth ?? false),
        PICTOR_LOG__LEVEL: process.env['CLUSTER_TEST_DEBUG'] ? 'info' : 'warn',
        PICTOR_SERVER__SHUTDOWN_TIMEOUT_SECONDS: '5',
      }),
    });
    children.push(child);
    let out = '';
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (process.env['CLUSTER_TEST_DEBUG'])
        process.stderr.write(`[worker ${child.pid}] ${chunk.toString()}`);
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (process.env['CLUSTER_TEST_DEBUG'])
          process.stderr.write(`[worker ${child.pid}] ${chunk.toString()}`);
        if (out.includes('Pictor worker node')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${out}${err}`)));
    });
    return child;
  };

  /** Stores a job and queues it, as an API node does. */
  const submit = async (overrides: Partial<Job> = {}): Promise<Job> => {
    const job = makeJob({ createdAt: Date.now(), ...overrides });
    await jobs.insert(job);
    await queue.add(dispatchItemOf(job));
    return job;
  };

  /** Resolves with the first event of `jobId` that `match` accepts (already seen or to come). */
  const event = (jobId: string, match: (e: JobEvent) => boolean): Promise<JobEvent> => {
    const found = events.find((e) => e.jobId === jobId && match(e));
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => waiters.add({ jobId, match, resolve }));
  };
  const final = (jobId: string) =>
    event(jobId, (e) => ['completed', 'failed', 'cancelled', 'expired'].includes(e.type));
  /** Resolves once the job runs (its row says so: events may trail under load). */
  const running = (jobId: string) =>
    eventually(async () => ((await jobs.get(jobId))?.status === 'running' ? true : undefined));
  const typesOf = (jobId: string) => events.filter((e) => e.jobId === jobId).map((e) => e.type);
  // An API node's lifecycle: its transitions in the database, its events on the bus.
  const api = new JobLifecycle({
    transitions: new KyselyTransitionStore(db, (trx) => ({
      jobs: new KyselyJobRepository(trx),
      ledger: { refund: () => Promise.resolve() },
      outbox: { record: () => Promise.resolve() },
    })),
    queue: new DispatchFeed(queue, silent),
    events: new BusEventSink(bus, silent),
    logger: silent,
    imageUrl: (id, index) => `http://x/v1/jobs/${id}/image?index=${index}`,
    jobUrl: (id) => `http://x/v1/jobs/${id}`,
  });
  /** Cancels a job as an API node does: a transition in the database, an event on the bus. */
  const cancel = async (jobId: string): Promise<void> => {
    const job = await jobs.get(jobId);
    assert.ok(job && (await api.cancel(job)), `${jobId} was cancelled`);
  };
  return { db, databaseUrl, jobs, queue, prefix, worker, submit, final, running, typesOf, cancel };
}
