// `npm run bench:cluster`: a cluster of real processes — two `pictor api` nodes and 1, 2, 4
// `pictor worker` nodes with the fake engine at a fixed step time — on the PostgreSQL and Redis
// running here (a database and a key prefix of its own, dropped at the end), with `pictor serve`
// beside it for the embedded mode's numbers. Goals (issue #13): images/s ≥ 0.9× linear in worker
// processes; accepted submissions/s through two API nodes; p50/p99 of event latency from worker
// to client; the time a job lost with its worker (kill -9) takes to complete elsewhere.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Redis } from 'ioredis';
import { cpuByRole, cpuOfCommand, perJob } from './process-cpu.ts';

const root = path.join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    'step-ms': { type: 'string', default: '50' },
    // `onnx` runs the bundled `tiny` model instead (real inference; try `--workers 1,2`).
    engine: { type: 'string', default: 'fake' },
    steps: { type: 'string', default: '10' },
    'jobs-per-worker': { type: 'string', default: '12' },
    submissions: { type: 'string', default: '600' },
    concurrency: { type: 'string', default: '32' },
    workers: { type: 'string', default: '1,2,4' },
    // ONNX Runtime threads per worker (`workers.intraOpThreads`); 0: the config's default.
    threads: { type: 'string', default: '1' },
  },
});
const STEP_MS = Number(values['step-ms']);
const ENGINE = values.engine === 'onnx' ? 'onnx' : 'fake';
const STEPS = Number(values.steps);
const ADMIN_KEY = `sk_bench_${'c'.repeat(40)}`;
const LEASE_MS = 3000;
const headers = { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` };
const body = JSON.stringify({ prompt: 'a red circle', steps: STEPS, width: 64, height: 64 });

const quantile = (xs: readonly number[], q: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

const children = new Set<ChildProcess>();
/** Each child's role, for the CPU time per role (`api`, `worker`, `serve`). */
const roles = new Map<number, string>();
function killAll(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const alive = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  return Promise.all(
    alive.map(
      (c) => new Promise<void>((resolve) => c.once('exit', () => resolve()) && c.kill(signal)),
    ),
  ).then(() => undefined);
}

/** Spawns `pictor <role>`; resolves with its stdout once it matches `ready`. */
function start(
  role: string,
  args: readonly string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('PICTOR_'));
  const child = spawn(process.execPath, ['bin/pictor.js', role, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...Object.fromEntries(inherited),
      PICTOR_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'pictor-bench-')),
      PICTOR_WORKERS__ENGINE: ENGINE,
      PICTOR_WORKERS__FAKE_STEP_MS: String(STEP_MS),
      // Two workers on two cores: one ONNX Runtime thread each, as a GPU per worker would be.
      ...(ENGINE === 'onnx' ? { PICTOR_WORKERS__INTRA_OP_THREADS: values.threads } : {}),
      PICTOR_QUEUE__MAX_BATCH: '1',
      PICTOR_QUEUE__MAX_QUEUED: '100000',
      PICTOR_ADMIN_KEY: ADMIN_KEY,
      PICTOR_LOG__LEVEL: 'warn',
      PICTOR_LOG__FILE: '',
      ...env,
    },
  });
  children.add(child);
  if (child.pid !== undefined) roles.set(child.pid, role);
  child.once('exit', () => {
    children.delete(child);
    if (child.pid !== undefined) roles.delete(child.pid);
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = out.match(ready);
      if (match) resolve({ child, match });
    });
    child.once('exit', (code) => reject(new Error(`${role} exited ${code}: ${out}${err}`)));
  });
}

async function post(base: string, route: string): Promise<{ status: number; id: string }> {
  const response = await fetch(`${base}${route}`, { method: 'POST', headers, body });
  const json = (await response.json()) as { job_id?: string };
  return { status: response.status, id: json.job_id ?? '' };
}

async function jobStatus(base: string, id: string): Promise<string> {
  const response = await fetch(`${base}/v1/jobs/${id}`, { headers });
  return ((await response.json()) as { status: string }).status;
}

/** Submits until one is accepted (the workers' models reach the API nodes within a second). */
async function firstAccepted(base: string): Promise<string> {
  for (;;) {
    const { status, id } = await post(base, '/v1/jobs');
    if (status === 202) return id;
    await sleep(200);
  }
}

async function waitFinal(base: string, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    while (!['completed', 'failed', 'cancelled', 'expired'].includes(await jobStatus(base, id)))
      await sleep(50);
  }
}

/** `count` jobs through `bases` (round robin), all completed: images per second. */
async function throughput(bases: readonly string[], count: number): Promise<number> {
  const began = performance.now();
  const ids = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const { status, id } = await post(bases[i % bases.length] ?? '', '/v1/jobs');
      if (status !== 202) throw new Error(`submission refused: ${status}`);
      return id;
    }),
  );
  await waitFinal(bases[0] ?? '', ids);
  return count / ((performance.now() - began) / 1000);
}

/**
 * Runs `count` jobs through {@link throughput} and says where their CPU time went, in ms per job:
 * each role's processes (a worker node's or `pictor serve`'s inference children apart), the
 * PostgreSQL backends of `database` (when given), and Redis (shared: others' load counts too).
 */
async function measuredThroughput(
  bases: readonly string[],
  count: number,
  database: pg.Client | undefined,
  name: string,
): Promise<{ ips: number; cpu: string }> {
  const backends = async (): Promise<Map<number, string>> => {
    if (!database) return new Map();
    const { rows } = await database.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1',
      [name],
    );
    return new Map(rows.map((r) => [r.pid, 'postgres']));
  };
  const snapshot = async () => {
    const cpu = cpuByRole(roles, await backends());
    cpu.set('redis (shared)', cpuOfCommand('redis-server'));
    return cpu;
  };
  const before = await snapshot();
  const ips = await throughput(bases, count);
  return { ips, cpu: perJob(before, await snapshot(), count) };
}

/** Accepted async submissions per second through `bases`, `concurrency` at a time. */
async function submissions(bases: readonly string[], total: number, concurrency: number) {
  let next = 0;
  let accepted = 0;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        if ((await post(bases[i % bases.length] ?? '', '/v1/jobs')).status === 202) accepted++;
      }
    }),
  );
  return accepted / ((performance.now() - began) / 1000);
}

/**
 * Worker → client latency of progress events: a cluster event's id is its Redis stream id
 * (milliseconds of the publish × 1000 + n), so arrival time − ⌊id / 1000⌋ is how long it took.
 */
async function eventLatency(submitTo: string, followOn: string, jobs: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let j = 0; j < jobs; j++) {
    const id = await firstAccepted(submitTo);
    const response = await fetch(`${followOn}/v1/jobs/${id}/events`, { headers });
    const decoder = new TextDecoder();
    let buffer = '';
    let done = false;
    for await (const chunk of response.body ?? []) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const idLine = block.split('\n').find((l) => l.startsWith('id: '));
        if (block.includes('event: progress') && idLine)
          latencies.push(Date.now() - Math.floor(Number(idLine.slice(4)) / 1000));
        if (block.includes('event: completed')) done = true;
      }
      if (done) break;
    }
  }
  return latencies;
}

async function main(): Promise<void> {
  const name = `pictor_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: values.postgres });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(values.postgres);
  url.pathname = `/${name}`;
  const prefix = `pictor-bench:${process.pid}`;
  const cluster = {
    PICTOR_DATABASE__DRIVER: 'postgres',
    PICTOR_DATABASE__URL: url.toString(),
    PICTOR_REDIS__URL: values.redis,
    PICTOR_REDIS__PREFIX: prefix,
    PICTOR_STORAGE__BLOBS: 'postgres',
    PICTOR_CLUSTER__LEASE_MS: String(LEASE_MS),
    PICTOR_WEBHOOKS__SECRET: 'whsec_YmVuY2gtY2x1c3Rlci1zZWNyZXQtMDAwMDAw',
    PICTOR_LINKS__SECRET: 'bench-cluster-link-secret-0000000000',
  };
  const perJobs = Number(values['jobs-per-worker']);
  const rows: string[] = [];
  const report = (line: string): void => {
    rows.push(line);
    console.log(line);
  };
  try {
    console.log(
      ENGINE === 'fake'
        ? `fake engine: ${STEPS} steps × ${STEP_MS} ms = ${STEPS * STEP_MS} ms per job; batching off; load ${load()}`
        : `onnx engine, the tiny model: ${STEPS} steps at 64×64, ${values.threads === '0' ? 'the default threads' : `${values.threads} thread(s)`} per worker; batching off; load ${load()}`,
    );
    let embeddedSingle = 0;
    // --- embedded mode, beside ---
    for (const devices of [1, 2]) {
      const serve = await start(
        'serve',
        ['--port', '0', '--host', '127.0.0.1'],
        { PICTOR_WORKERS__DEVICES: JSON.stringify(Array(devices).fill('cpu')) },
        /listening on (http:\/\/[\d.]+:\d+)/,
      );
      const base = serve.match[1] ?? '';
      await waitFinal(base, [await firstAccepted(base)]);
      const { ips, cpu } = await measuredThroughput([base], perJobs * devices, undefined, '');
      if (devices === 1) embeddedSingle = ips;
      const scaling =
        ENGINE === 'fake'
          ? `${((ips / devices) * ((STEPS * STEP_MS) / 1000)).toFixed(2)}× ideal per worker`
          : `${(ips / (embeddedSingle * devices)).toFixed(2)}× linear`;
      report(
        `embedded, ${devices} worker process(es): ${ips.toFixed(2)} images/s (${scaling}) load ${load()}`,
      );
      report(`  CPU ms per job: ${cpu}`);
      if (devices === 1) {
        const subs = await submissions(
          [base],
          Number(values.submissions),
          Number(values.concurrency),
        );
        report(`embedded: ${subs.toFixed(0)} accepted submissions/s (1 process) load ${load()}`);
      }
      await killAll();
    }
    // --- cluster ---
    const apis: string[] = [];
    for (let i = 0; i < 2; i++) {
      const api = await start(
        'api',
        ['--port', '0', '--host', '127.0.0.1'],
        cluster,
        /listening on (http:\/\/[\d.]+:\d+)/,
      );
      apis.push(api.match[1] ?? '');
    }
    const [a = '', b = ''] = apis;
    let single = 0;
    for (const count of values.workers.split(',').map(Number)) {
      const workers = await Promise.all(
        Array.from({ length: count }, () => start('worker', [], cluster, /Pictor worker node/)),
      );
      await waitFinal(a, [await firstAccepted(a)]);
      const { ips, cpu } = await measuredThroughput(apis, perJobs * count, admin, name);
      if (count === 1) single = ips;
      report(
        `cluster, ${count} worker process(es): ${ips.toFixed(2)} images/s` +
          (single > 0 ? ` (${(ips / (single * count)).toFixed(2)}× linear)` : '') +
          ` load ${load()}`,
      );
      report(`  CPU ms per job: ${cpu}`);
      if (count !== 1) {
        await Promise.all(
          workers.map(
            ({ child }) => new Promise((r) => child.once('exit', r) && child.kill('SIGTERM')),
          ),
        );
        continue;
      }
      const latencies = await eventLatency(a, b, 5);
      report(
        `cluster event latency worker → client (SSE on the other API node): p50 ${quantile(latencies, 0.5)} ms, p99 ${quantile(latencies, 0.99)} ms (${latencies.length} progress events) load ${load()}`,
      );
      await Promise.all(
        workers.map(
          ({ child }) => new Promise((r) => child.once('exit', r) && child.kill('SIGTERM')),
        ),
      );
    }
    // Recovery: the node running a job dies (kill -9); the job completes on the other.
    const first = await start('worker', [], cluster, /Pictor worker node/);
    const id = await firstAccepted(a);
    while ((await jobStatus(a, id)) !== 'running') await sleep(10);
    const killedAt = performance.now();
    first.child.kill('SIGKILL');
    await start('worker', [], cluster, /Pictor worker node/);
    await waitFinal(a, [id]);
    report(
      `cluster recovery after kill -9 of the running worker (lease ${LEASE_MS} ms): completed ${((performance.now() - killedAt) / 1000).toFixed(2)} s after the kill${ENGINE === 'fake' ? ` (job alone: ${((STEPS * STEP_MS) / 1000).toFixed(2)} s)` : ''} load ${load()}`,
    );
    const subs = await submissions(apis, Number(values.submissions), Number(values.concurrency));
    report(
      `cluster: ${subs.toFixed(0)} accepted submissions/s through two API nodes load ${load()}`,
    );
  } finally {
    await killAll();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    const redis = new Redis(values.redis);
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = nextCursor;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
  console.log(`\n${rows.join('\n')}`);
}

await main();
