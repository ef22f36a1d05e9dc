import { Redis } from 'ioredis';

export const REDIS_URL = process.env['PICTOR_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** Why Redis suites skip (printed), or undefined when Redis answers at {@link REDIS_URL}. */
export async function redisUnavailable(): Promise<string | undefined> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    const reason = `Redis unreachable at ${REDIS_URL}: ${(error as Error).message}`;
    console.log(`# skipping Redis: ${reason}`);
    return reason;
  } finally {
    redis.disconnect();
  }
}

/** A key prefix of its own for one test run: runs of other engineers and CI share the server. */
export const uniqueRedisPrefix = (): string =>
  `pictor-test:${process.pid}:${Math.random().toString(36).slice(2, 10)}:`;

/** Removes every key under `prefix` (a test's own). */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
