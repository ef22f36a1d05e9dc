// `pictor worker` as real processes (fake engine) on real PostgreSQL (a fresh database per test)
// and the shared Redis (a unique key prefix): jobs put in the database and the BullMQ queue, as
// an API node does, complete on a worker node, their events arrive on the Redis bus, and a
// worker killed (-9) or hung (SIGSTOP) mid-job loses the job to another node, run once more.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import type { Kysely } from 'kysely';
import { BusEventSink } from '../../src/jobs/bus-event-sink.ts';
import { DispatchFeed } from '../../src/jobs/dispatch-feed.ts';
import { JobLifecycle } from '../../src/jobs/job-lifecycle.ts';
import { dispatchItemOf } from '../../src/jobs/restore-dispatch-queue.ts';
import type { JobEvent } from '../../src/jobs/job-event.ts';
import type { Job } from '../../src/jobs/job.ts';
import { BullmqDispatchQueue } from '../../src/jobs/redis/bullmq-dispatch-queue.ts';
import { RedisEventBus } from '../../src/jobs/redis/redis-event-bus.ts';
import { RedisWorkerBoard } from '../../src/jobs/redis/redis-worker-board.ts';
import { PostgresBlobStore } from '../../src/storage/postgres/postgres-blob-store.ts';
import {
  KyselyJobRepository,
  KyselyTransitionStore,
  openDatabase,
  type Database,
} from '../../src/store/index.ts';
import { childEnv } from '../helpers/child-env.ts';
import { POSTGRES_URL } from '../helpers/databases.ts';
import { makeJob } from '../helpers/jobs.ts';
import {
  eventually,
  REDIS_URL,
  redisUnavailable,
  uniquePrefix,
  wipePrefix,
} from '../helpers/redis.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const LEASE_MS = 1500;

async function postgresUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return undefined;
  } catch (error) {
    return `PostgreSQL unreachable: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const skip = (await redisUnavailable()) ?? (await postgresUnavailable());

/** Runs one statement on the server's maintenance connection (CREATE/DROP DATABASE). */
async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A cluster's shared state for one test: its own database, Redis prefix, queue and bus. */
async function sharedState(t: { after: (fn: () => Promise<void>) => void }) {
  const name = `pictor_cl_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const db: Kysely<Database> = await openDatabase({ driver: 'postgres', url: databaseUrl });
  const prefix = uniquePrefix('cluster');
  const queue = new BullmqDispatchQueue({
    url: REDIS_URL,
    prefix,
    queueName: 'jobs',
    leaseMs: LEASE_MS,
    checkIntervalMs: LEASE_MS / 2,
  });
  const bus = new RedisEventBus({
    url: REDIS_URL,
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
    await wipePrefix(prefix);
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
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
        PICTOR_REDIS__URL: REDIS_URL,
        PICTOR_REDIS__PREFIX: prefix,
        PICTOR_STORAGE__BLOBS: 'postgres',
        PICTOR_WORKERS__ENGINE: 'fake',
        PICTOR_CLUSTER__LEASE_MS: String(LEASE_MS),
        PICTOR_AUTH__ENABLED: 'false',
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
  return { db, jobs, queue, prefix, worker, submit, final, running, typesOf, cancel };
}

test(
  'a job queued by an API node completes on a worker node: result in the shared blob store, events on the bus',
  { skip },
  async (t) => {
    const c = await sharedState(t);
    await c.worker();
    const job = await c.submit();
    assert.equal((await c.final(job.id)).type, 'completed');
    const stored = await c.jobs.get(job.id);
    assert.equal(stored?.status, 'completed');
    assert.equal(stored?.attempts, 1);
    const key = stored?.result?.images[0]?.key ?? '';
    const blobs = await PostgresBlobStore.open(c.db);
    assert.ok((await blobs.get(key))?.length, 'the image is in the shared blob store');
    assert.deepEqual(
      c.typesOf(job.id).filter((t) => t !== 'progress'),
      ['started', 'completed'],
    );
    assert.equal(await c.queue.state(job.id), undefined, 'its lease was ended');
  },
);

// Seen to stall once at load 17–20 on two cores (the taking-over node logged the take-over and
// then no transition); at normal load it passes run after run. The time limit turns a stall
// into a failure rather than a hung run.
test(
  'kill -9 a worker node mid-job: the job is run again on another node and completes once',
  { skip, timeout: 120_000 },
  async (t) => {
    const c = await sharedState(t);
    const first = await c.worker();
    // 400 fake steps of 20 ms: eight seconds, long enough to be killed in.
    const job = await c.submit({ params: { ...makeJob().params, steps: 400 } });
    await c.running(job.id);
    first.kill('SIGKILL');
    await c.worker();
    assert.equal((await c.final(job.id)).type, 'completed');
    const stored = await c.jobs.get(job.id);
    assert.equal(
      stored?.attempts,
      2,
      `the killed run counted as an attempt: ${JSON.stringify(c.typesOf(job.id))} ${String(stored?.startedAt)} ${String(stored?.finishedAt)}`,
    );
    assert.equal(c.typesOf(job.id).filter((t) => t === 'completed').length, 1);
  },
);

test(
  'a hung worker node (SIGSTOP): its lease expires, another node completes the job; woken up, it records nothing',
  { skip },
  async (t) => {
    const c = await sharedState(t);
    const first = await c.worker();
    const job = await c.submit({ params: { ...makeJob().params, steps: 400 } });
    await c.running(job.id);
    first.kill('SIGSTOP');
    await c.worker();
    assert.equal((await c.final(job.id)).type, 'completed');
    assert.equal((await c.jobs.get(job.id))?.attempts, 2);
    first.kill('SIGCONT');
    // The woken node finishes its run, finds its lease gone and leaves the job alone; it then
    // stops cleanly (its queue is empty), which shows it settled.
    const exited = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGTERM');
    assert.equal(await exited, 0);
    const stored = await c.jobs.get(job.id);
    assert.equal(stored?.status, 'completed');
    assert.equal(stored?.attempts, 2);
    assert.equal(c.typesOf(job.id).filter((t) => t === 'completed').length, 1);
  },
);

test(
  'a worker node advertises its devices and models while it lives: withdrawn on SIGTERM, expired within a lease after kill -9',
  { skip },
  async (t) => {
    const c = await sharedState(t);
    const board = new RedisWorkerBoard({ url: REDIS_URL, prefix: c.prefix });
    t.after(() => board.close());
    const stopped = await c.worker();
    const killed = await c.worker();
    // Each node advertised before it said it takes jobs.
    const live = await board.live();
    assert.equal(live.length, 2);
    for (const ad of live) {
      assert.deepEqual(ad.devices, ['cpu']);
      assert.ok(ad.models.length > 0, JSON.stringify(ad));
      assert.ok(ad.models.every((m) => m.limits.maxBatch > 0 && m.defaults.steps > 0));
    }
    const exited = new Promise((resolve) => stopped.once('exit', resolve));
    stopped.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal((await board.live()).length, 1, 'the stopped node withdrew its advertisement');
    killed.kill('SIGKILL');
    // Nobody withdraws for a killed node: its advertisement expires (one lease) by itself.
    await eventually(async () => ((await board.live()).length === 0 ? true : undefined));
  },
);

test(
  'a cancel recorded by an API node aborts the job running on a worker node, which then takes the next job; the cancelled job records nothing more',
  { skip, timeout: 60_000 },
  async (t) => {
    const c = await sharedState(t);
    await c.worker();
    // 5000 fake steps of 20 ms: 100 s, far beyond the test's time limit unless it is aborted.
    const long = await c.submit({ params: { ...makeJob().params, steps: 5000 } });
    await c.running(long.id);
    const next = await c.submit();
    await c.cancel(long.id);
    assert.equal((await c.final(long.id)).type, 'cancelled');
    // The node has one inference worker: the next job runs only once the long one is aborted.
    assert.equal((await c.final(next.id)).type, 'completed');
    const stored = await c.jobs.get(long.id);
    assert.equal(stored?.status, 'cancelled');
    assert.equal(stored?.result, null, 'no result recorded after the cancel');
    assert.equal(stored?.attempts, 1);
    const types = c.typesOf(long.id);
    // Only progress the node sent before the cancel reached it (over the bus) may trail it.
    assert.deepEqual(
      types.slice(types.indexOf('cancelled') + 1).filter((type) => type !== 'progress'),
      [],
    );
    assert.equal(await c.queue.state(long.id), undefined, 'its lease was ended');
  },
);

test(
  'a job whose node hangs twice (SIGSTOP) is retried once elsewhere, then failed with WORKER_DIED; the woken nodes record nothing',
  { skip, timeout: 120_000 },
  async (t) => {
    const c = await sharedState(t);
    const first = await c.worker();
    const job = await c.submit({ params: { ...makeJob().params, steps: 5000 } });
    await c.running(job.id);
    first.kill('SIGSTOP');
    const second = await c.worker();
    await eventually(async () => ((await c.jobs.get(job.id))?.attempts === 2 ? true : undefined));
    second.kill('SIGSTOP');
    await c.worker();
    const final = await c.final(job.id);
    assert.equal(final.type, 'failed');
    const stored = await c.jobs.get(job.id);
    assert.equal(stored?.error?.code, 'WORKER_DIED');
    assert.equal(stored?.attempts, 2);
    // Woken, each finds its lease gone and stops cleanly, recording nothing.
    for (const hung of [first, second]) {
      hung.kill('SIGCONT');
      const exited = new Promise((resolve) => hung.once('exit', resolve));
      hung.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
    assert.equal((await c.jobs.get(job.id))?.status, 'failed');
    const finals = c.typesOf(job.id).filter((type) => ['completed', 'failed'].includes(type));
    assert.deepEqual(finals, ['failed']);
  },
);
