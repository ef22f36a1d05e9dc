// `node bench/worker-board.bench.ts`: how long an API node's `RedisWorkerBoard.live()` takes with
// a few advertised workers, on an empty Redis and on one holding `--unrelated N` keys of other
// applications (a shared Redis). Runs a private `redis-server` (stopped at the end), so the
// shared one is neither filled nor measured with others' load. `--count N` calls per case.
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { RedisWorkerBoard } from '../src/jobs/redis/redis-worker-board.ts';
import { advertisedModel } from '../test/helpers/advertisements.ts';
import { startPrivateRedis } from '../test/helpers/private-redis.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200' },
    unrelated: { type: 'string', default: '100000' },
    workers: { type: 'string', default: '4' },
  },
});
const count = Number(values.count);

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function timeLive(board: RedisWorkerBoard, expected: number): Promise<string> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const live = await board.live();
    times.push(performance.now() - start);
    if (live.length !== expected) throw new Error(`live() listed ${live.length}, not ${expected}`);
  }
  times.sort((a, b) => a - b);
  return `p50 ${percentile(times, 50).toFixed(3)} ms, p99 ${percentile(times, 99).toFixed(3)} ms`;
}

const redis = await startPrivateRedis();
if (typeof redis === 'string') throw new Error(redis);
const board = new RedisWorkerBoard({ url: redis.url, prefix: 'bench' });
const filler = new Redis(redis.url);
try {
  const workers = Number(values.workers);
  for (let i = 0; i < workers; i++) {
    await board.publish(
      {
        nodeId: `node-${i}`,
        devices: ['cpu'],
        models: [advertisedModel('tiny', true)],
        advertisedAt: Date.now(),
      },
      600_000,
    );
  }
  console.log(
    `${workers} workers, empty Redis otherwise      live() ${await timeLive(board, workers)}`,
  );
  const unrelated = Number(values.unrelated);
  for (let i = 0; i < unrelated; i += 1000) {
    const pairs: string[] = [];
    for (let j = i; j < Math.min(unrelated, i + 1000); j++) pairs.push(`other-app:key:${j}`, 'x');
    await filler.mset(...pairs);
  }
  console.log(
    `${workers} workers, ${unrelated} unrelated keys      live() ${await timeLive(board, workers)}`,
  );
} finally {
  filler.disconnect();
  await board.close();
  await redis.stop();
}
