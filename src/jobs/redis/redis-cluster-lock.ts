import type { Redis } from 'ioredis';
import type { ClusterLock } from '../cluster-lock.ts';
import { redisClient } from './redis-unavailable.ts';

export interface RedisClusterLockOptions {
  readonly url: string;
  /** Namespaces the keys (one deployment, or one test run). */
  readonly prefix: string;
  /** How long one Redis command may take before it fails (Redis unreachable); none: forever. */
  readonly timeoutMs?: number;
}

/** Takes the lock when free, renews it when the caller holds it: one round trip, atomic. */
const ACQUIRE = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/** Deletes the lock only if the caller holds it (a lease that ran out may be someone else's). */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * {@link ClusterLock} on Redis: one key per lock, `<prefix>:locks:<name>`, holding the holder's id
 * with Redis's own expiry (`PX`), so a holder that stops renewing loses it without anyone cleaning
 * up. Compare-and-set in Lua: a renewal or release never touches another holder's lease.
 */
export class RedisClusterLock implements ClusterLock {
  readonly #redis: Redis;
  readonly #keyPrefix: string;

  constructor(options: RedisClusterLockOptions) {
    this.#redis = redisClient(options.url, { timeoutMs: options.timeoutMs });
    this.#keyPrefix = `${options.prefix}:locks:`;
  }

  async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const ttl = String(Math.max(1, Math.round(ttlMs)));
    return (await this.#redis.eval(ACQUIRE, 1, this.#keyPrefix + name, holder, ttl)) === 1;
  }

  async release(name: string, holder: string): Promise<boolean> {
    return (await this.#redis.eval(RELEASE, 1, this.#keyPrefix + name, holder)) === 1;
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
