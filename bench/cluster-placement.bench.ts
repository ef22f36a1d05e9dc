// `npm run bench:cluster-placement`: model-aware dispatch across worker nodes. Two worker nodes
// (in-process `pictor worker` compositions, one inference worker process each, a memory budget
// for one model) on the PostgreSQL and Redis running here (a fresh database, a unique key
// prefix), two models: jobs submitted alternating between them, one at a time (`sequential`:
// each waits for the previous) and all at once (`burst`). Prints the models loaded per 100 jobs
// (counted from the workers' own load reports) and images/s, with the load average. Run it on
// another commit (copy this file and test/helpers/worker-cluster.ts there) for a before/after.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createWorkerNode, type PictorWorker } from '../src/cli/compose-worker.ts';
import type { Job } from '../src/jobs/job.ts';
import { makeJob } from '../test/helpers/jobs.ts';
import { testConfig } from '../test/helpers/pictor.ts';
import { REDIS_URL } from '../test/helpers/redis.ts';
import { sharedState } from '../test/helpers/worker-cluster.ts';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '100' },
    steps: { type: 'string', default: '10' },
    'step-ms': { type: 'string', default: '20' },
    // `onnx` runs the bundled `tiny` model (real loads and inference) under two names.
    engine: { type: 'string', default: 'fake' },
    // Room for one model per worker: the fake engine weighs models/tiny's 8.6 MB on disk.
    'budget-gb': { type: 'string', default: String(12 / 1024) },
    patterns: { type: 'string', default: 'sequential,burst' },
  },
});
const JOBS = Number(values.jobs);
const STEPS = Number(values.steps);
const LEASE_MS = 10_000;
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

async function run(pattern: string): Promise<string> {
  const cleanups: (() => Promise<void>)[] = [];
  const c = await sharedState({ after: (fn) => cleanups.push(fn) }, { leaseMs: LEASE_MS });
  const nodes: PictorWorker[] = [];
  try {
    for (let n = 0; n < 2; n++) {
      const node = await createWorkerNode(
        testConfig({
          PICTOR_WORKERS__ENGINE: values.engine === 'onnx' ? 'onnx' : 'fake',
          PICTOR_WORKERS__INTRA_OP_THREADS: '1',
          PICTOR_DATABASE__DRIVER: 'postgres',
          PICTOR_DATABASE__URL: c.databaseUrl,
          PICTOR_REDIS__URL: REDIS_URL,
          PICTOR_REDIS__PREFIX: c.prefix,
          PICTOR_STORAGE__BLOBS: 'postgres',
          PICTOR_CLUSTER__LEASE_MS: String(LEASE_MS),
          PICTOR_QUEUE__MAX_BATCH: '1',
          PICTOR_WORKERS__MEMORY_BUDGET_GB: values['budget-gb'],
          PICTOR_MODELS__DEFAULT: 'a',
          PICTOR_MODELS__LIST: JSON.stringify(
            ['a', 'b'].map((name) => ({ name, path: 'models/tiny' })),
          ),
        }),
        { logger: false, fakeStepMs: Number(values['step-ms']) },
      );
      nodes.push(node);
      await node.start();
    }
    let loads = 0;
    const stops = nodes.map((node) => {
      const held = () => new Set([...node.workers.loadedByPid().values()].flat());
      let before = held();
      return node.workers.onModels(() => {
        const now = held();
        for (const model of now) if (!before.has(model)) loads++;
        before = now;
      });
    });
    const submit = (i: number): Promise<Job> => {
      const model = i % 2 === 0 ? 'a' : 'b';
      return c.submit({
        model,
        batchKey: `${model}|64`,
        params: { ...makeJob().params, steps: STEPS },
      });
    };
    const startLoad = load();
    const started = performance.now();
    if (pattern === 'burst') {
      const jobs: Job[] = [];
      for (let i = 0; i < JOBS; i++) jobs.push(await submit(i));
      for (const job of jobs) await c.final(job.id);
    } else {
      for (let i = 0; i < JOBS; i++) await c.final((await submit(i)).id);
    }
    const seconds = (performance.now() - started) / 1000;
    for (const stop of stops) stop();
    const failed = (
      await c.db.selectFrom('jobs').select('id').where('status', '!=', 'completed').execute()
    ).length;
    return `${pattern}: ${JOBS} jobs, ${loads} loads (${((loads * 100) / JOBS).toFixed(1)} per 100 jobs), ${(JOBS / seconds).toFixed(2)} images/s${failed ? `, ${failed} not completed` : ''}; load ${startLoad} → ${load()}`;
  } finally {
    for (const node of nodes) await node.stop();
    for (const fn of cleanups) await fn();
  }
}

console.log(
  `two worker nodes, two models, budget for one per worker; ${values.engine} engine, ${STEPS} steps${values.engine === 'onnx' ? ' at 64×64' : ` × ${values['step-ms']} ms`}, batching off`,
);
for (const pattern of values.patterns.split(',')) console.log(await run(pattern));
process.exit(0);
