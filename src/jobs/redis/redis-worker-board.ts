import type { Redis } from 'ioredis';
import type { WorkerAdvertisement, WorkerBoard } from '../worker-board.ts';
import { redisClient } from './redis-unavailable.ts';

export interface RedisWorkerBoardOptions {
  readonly url: string;
  /** Namespaces the keys (one deployment, or one test run). */
  readonly prefix: string;
  /** How long one Redis command may take before it fails (Redis unreachable); none: forever. */
  readonly timeoutMs?: number;
}

// Redis's clock, in epoch ms: every node's expiry and every read compare times on this one clock,
// so clock skew between nodes cannot keep a dead node listed or drop a live one.
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS: the advertisements hash, the expiry set. ARGV: node id, advertisement, TTL in ms.
 * Each key's own expiry is pushed out to the longest TTL published into it, never shortened, so
 * a deployment whose nodes all stop leaves nothing behind and a short TTL cannot drop a longer one.
 */
const PUBLISH = `${NOW}
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
for _, key in ipairs(KEYS) do
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end`;

/**
 * KEYS: the advertisements hash, the expiry set. Prunes the advertisements whose TTL ran out,
 * then returns the live ones: the expiry set decides who is live, the hash holds what they said.
 */
const LIVE = `${NOW}
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, id in ipairs(expired) do redis.call('HDEL', KEYS[1], id) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local live = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
if #live == 0 then return {} end
return redis.call('HMGET', KEYS[1], unpack(live))`;

/**
 * {@link WorkerBoard} on Redis: two keys per board, a hash `<prefix>:workers:ads` (node id →
 * advertisement JSON) and a sorted set `<prefix>:workers:expiry` (node id scored by when its TTL
 * runs out, on Redis's clock). Listing reads the set's live range and those hash fields, pruning
 * the expired ones on the way — work in the board's size, never in the size of a shared Redis's
 * keyspace (which scanning for per-node keys was). A node that stops renewing drops out of the
 * list by itself; whichever node reads next cleans it up.
 */
export class RedisWorkerBoard implements WorkerBoard {
  readonly #redis: Redis;
  readonly #keys: readonly [ads: string, expiry: string];

  constructor(options: RedisWorkerBoardOptions) {
    this.#redis = redisClient(options.url, { timeoutMs: options.timeoutMs });
    this.#keys = [`${options.prefix}:workers:ads`, `${options.prefix}:workers:expiry`];
  }

  async publish(advertisement: WorkerAdvertisement, ttlMs: number): Promise<void> {
    const ttl = String(Math.max(1, Math.round(ttlMs)));
    await this.#redis.eval(
      PUBLISH,
      2,
      ...this.#keys,
      advertisement.nodeId,
      JSON.stringify(advertisement),
      ttl,
    );
  }

  async withdraw(nodeId: string): Promise<void> {
    const [ads, expiry] = this.#keys;
    await this.#redis.multi().hdel(ads, nodeId).zrem(expiry, nodeId).exec();
  }

  async live(): Promise<readonly WorkerAdvertisement[]> {
    const values = (await this.#redis.eval(LIVE, 2, ...this.#keys)) as (string | null)[];
    // null: a hash field lost while its expiry entry stayed (an evicted key); not listed.
    return values
      .filter((value): value is string => value !== null)
      .map((value) => JSON.parse(value) as WorkerAdvertisement)
      .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
