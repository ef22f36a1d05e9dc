// `npm run bench:cluster-workers`: the worker side of a cluster. `pictor worker` processes (the
// fake engine: 20 ms a step) fed through the real BullMQ queue (the Redis at its test URL, a
// unique prefix) and a fresh PostgreSQL database: images/s with 1, 2 and 4 worker processes
// (`--jobs N` per worker, `--steps S` each; `--workers 1,2,4`, empty for none), and the recovery time after a worker's kill -9 (its
// job's lease expires and another node runs it). Prints a table and the load average beside it.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { Job } from '../src/jobs/job.ts';
import { makeJob } from '../test/helpers/jobs.ts';
import { eventually } from '../test/helpers/redis.ts';
import { LEASE_MS, sharedState } from '../test/helpers/worker-cluster.ts';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '12' },
    steps: { type: 'string', default: '25' },
    workers: { type: 'string', default: '1,2,4' },
  },
});
const jobsPerWorker = Number(values.jobs);
const steps = Number(values.steps);
const counts = values.workers === '' ? [] : values.workers.split(',').map(Number);

/** A cluster of one run: its database and Redis prefix, cleaned up by `close`. */
async function cluster() {
  const cleanups: (() => Promise<void>)[] = [];
  const c = await sharedState({ after: (fn) => cleanups.push(fn) });
  return {
    ...c,
    async close() {
      for (const fn of cleanups) await fn();
    },
  };
}

async function allFinished(c: Awaited<ReturnType<typeof cluster>>, jobs: Job[]): Promise<void> {
  await eventually(async () => {
    for (const job of jobs) if ((await c.jobs.get(job.id))?.status !== 'completed') return;
    return true;
  }, 600_000);
}

/** Images per second through `workers` worker processes. */
async function throughput(workers: number): Promise<number> {
  const c = await cluster();
  try {
    await Promise.all(Array.from({ length: workers }, () => c.worker()));
    const started = performance.now();
    const jobs: Job[] = [];
    for (let i = 0; i < workers * jobsPerWorker; i++) {
      // Distinct batch keys: one job a batch, so images/s measures the nodes, not batching.
      jobs.push(await c.submit({ batchKey: `bench-${i}`, params: { ...makeJob().params, steps } }));
    }
    await allFinished(c, jobs);
    return jobs.length / ((performance.now() - started) / 1000);
  } finally {
    await c.close();
  }
}

/** Milliseconds from a worker's kill -9 mid-job to the job running again on another node. */
async function recovery(): Promise<number> {
  const c = await cluster();
  try {
    const first = await c.worker();
    // 2000 steps: 40 s, still running on the first node however long the second takes to start.
    const job = await c.submit({ params: { ...makeJob().params, steps: 2000 } });
    await c.running(job.id);
    await c.worker();
    const killed = performance.now();
    first.kill('SIGKILL');
    await eventually(
      async () => ((await c.jobs.get(job.id))?.attempts === 2 ? true : undefined),
      60_000,
    );
    return performance.now() - killed;
  } finally {
    await c.close();
  }
}

const rates = new Map<number, number>();
for (const n of counts) {
  const rate = await throughput(n);
  rates.set(n, rate);
  const base = rates.get(1);
  const efficiency = base ? rate / (n * base) : undefined;
  console.log(
    `${n} worker(s): ${rate.toFixed(2)} images/s` +
      (efficiency === undefined ? '' : `, ${(efficiency * 100).toFixed(0)} % of linear`) +
      ` (load ${loadavg()[0]?.toFixed(1)})`,
  );
}
const restartedMs = await recovery();
console.log(
  `kill -9 mid-job (lease ${LEASE_MS} ms): running again on another node after ` +
    `${restartedMs.toFixed(0)} ms (load ${loadavg()[0]?.toFixed(1)})`,
);
console.log(
  `ideal: ${(1000 / (steps * 20)).toFixed(2)} images/s per worker (${steps} steps of 20 ms)`,
);
