import { connect } from 'node:net';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env['PICTOR_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** Why Redis suites skip, or undefined when Redis answers (printed by the suite). */
export async function redisUnavailable(): Promise<string | undefined> {
  if (process.env['PICTOR_TEST_REDIS_URL'] === '') return 'PICTOR_TEST_REDIS_URL is empty';
  const { hostname, port } = new URL(REDIS_URL);
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 6379), timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
  const skip = reachable ? undefined : `Redis unreachable at ${REDIS_URL}`;
  if (skip) console.log(`# skipping Redis: ${skip}`);
  return skip;
}

/** A key prefix no other test run uses (Redis is shared by every engineer's runs). */
export function uniquePrefix(name: string): string {
  return `pictor-test:${name}:${process.pid}:${Math.random().toString(36).slice(2, 10)}`;
}

/** Deletes every key under `prefix` (what losing Redis's data looks like to one deployment). */
export async function wipePrefix(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}

/** Polls `probe` until it answers something other than undefined (waits for a state, not a time). */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
