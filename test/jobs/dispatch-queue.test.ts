// The DispatchQueue conformance suite over every adapter: in memory, and BullMQ on real Redis
// (a unique key prefix per run, deleted afterwards; Redis is shared).
import { after } from 'node:test';
import { InProcessDispatchQueue } from '../../src/jobs/in-process/in-process-dispatch-queue.ts';
import { BullmqDispatchQueue } from '../../src/jobs/redis/bullmq-dispatch-queue.ts';
import { dispatchQueueConformance } from './conformance/dispatch-queue-conformance.ts';
import { REDIS_URL, redisUnavailable, uniquePrefix, wipePrefix } from '../helpers/redis.ts';

dispatchQueueConformance({
  name: 'in-process',
  skip: undefined,
  create(leaseMs) {
    const queue = new InProcessDispatchQueue({ leaseMs });
    return {
      open: () => queue,
      // In memory, losing the data is a new process: a new, empty queue.
      lose: () => Promise.resolve(new InProcessDispatchQueue({ leaseMs })),
    };
  },
});

const redisSkip = await redisUnavailable();
const prefixes: string[] = [];
after(async () => {
  for (const prefix of prefixes) await wipePrefix(prefix);
});
dispatchQueueConformance({
  name: 'BullMQ on Redis',
  skip: redisSkip,
  create(leaseMs) {
    const prefix = uniquePrefix('dispatch');
    prefixes.push(prefix);
    const open = (): BullmqDispatchQueue =>
      new BullmqDispatchQueue({
        url: REDIS_URL,
        prefix,
        queueName: 'jobs',
        leaseMs,
        checkIntervalMs: Math.max(50, leaseMs / 4),
      });
    return {
      open,
      async lose() {
        await wipePrefix(prefix);
        return open();
      },
    };
  },
});
