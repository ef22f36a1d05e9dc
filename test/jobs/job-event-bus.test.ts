// The JobEventBus conformance suite over every adapter: in-process (on the EventHub), and Redis
// streams + pub/sub (a unique key prefix per run, deleted afterwards; Redis is shared).
import { after } from 'node:test';
import { EventHub } from '../../src/jobs/event-hub.ts';
import { InProcessEventBus } from '../../src/jobs/in-process/in-process-event-bus.ts';
import { RedisEventBus } from '../../src/jobs/redis/redis-event-bus.ts';
import { jobEventBusConformance } from './conformance/job-event-bus-conformance.ts';
import { REDIS_URL, redisUnavailable, uniquePrefix, wipePrefix } from '../helpers/redis.ts';

jobEventBusConformance({
  name: 'in-process',
  skip: undefined,
  create() {
    const hub = new EventHub();
    return { open: () => new InProcessEventBus(hub) };
  },
});

const redisSkip = await redisUnavailable();
const prefixes: string[] = [];
after(async () => {
  for (const prefix of prefixes) await wipePrefix(prefix);
});
jobEventBusConformance({
  name: 'Redis streams and pub/sub',
  skip: redisSkip,
  create() {
    const prefix = uniquePrefix('events');
    prefixes.push(prefix);
    return {
      open: () =>
        new RedisEventBus({
          url: REDIS_URL,
          prefix,
          retainMs: 60_000,
          idleRetainMs: 3_600_000,
          maxEventsPerJob: 1000,
        }),
    };
  },
});
