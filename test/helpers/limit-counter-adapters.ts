// The LimitCounters adapters under test, each opened as two handles on the same counters (what two
// API nodes hold); shared by the counters' conformance suite and the in-flight admission tests.
import { after } from 'node:test';
import { InProcessLimitCounters } from '../../src/accounts/in-process/in-process-limit-counters.ts';
import type { LimitCounters } from '../../src/accounts/limit-counters.ts';
import { RedisLimitCounters } from '../../src/accounts/redis/redis-limit-counters.ts';
import { redisUnavailable, REDIS_URL, uniquePrefix, wipePrefix } from './redis.ts';

export interface CountersUnderTest {
  readonly name: string;
  readonly skip?: string | undefined;
  /** Two handles on the same counters, as two API nodes have (one object in-process). */
  readonly open: () => [LimitCounters, LimitCounters];
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

export const LIMIT_COUNTER_ADAPTERS: readonly CountersUnderTest[] = [
  {
    name: 'in-process',
    open: () => {
      const counters = new InProcessLimitCounters();
      return [counters, counters];
    },
  },
  {
    name: 'Redis',
    skip: await redisUnavailable(),
    open: () => {
      // Redis is shared by every test run on the machine: a prefix of this run's own.
      const runPrefix = uniquePrefix('limits');
      const keyPrefix = `${runPrefix}:`;
      const nodes: [LimitCounters, LimitCounters] = [
        new RedisLimitCounters({ url: REDIS_URL, keyPrefix }),
        new RedisLimitCounters({ url: REDIS_URL, keyPrefix }),
      ];
      cleanups.push(async () => {
        await Promise.all(nodes.map((node) => node.close()));
        await wipePrefix(runPrefix);
      });
      return nodes;
    },
  },
];
