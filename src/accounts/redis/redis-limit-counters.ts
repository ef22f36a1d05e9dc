import type { Redis } from 'ioredis';
import type { LimitCounters, SlotLease, TokenTake } from '../limit-counters.ts';
import { redisClient } from '../../jobs/redis/redis-unavailable.ts';

/**
 * Takes a token: KEYS[1] the bucket (a hash of `tokens` and `at`); ARGV perMinute, now. The same
 * arithmetic as the in-process adapter, in one script so that no other node's take interleaves.
 * Tokens go back as a string: Redis would truncate a Lua number to an integer.
 */
const TAKE_TOKEN = `
local perMinute = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or perMinute
local at = tonumber(bucket[2]) or now
tokens = math.min(perMinute, tokens + math.max(0, now - at) * perMinute / 60000)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], 60000)
return {allowed, string.format('%.17g', tokens)}
`;

/**
 * Takes a slot: KEYS[1] a sorted set of holders scored by lease end; ARGV holder, limit, now,
 * lease end. Expired holders go first; a holder already in renews its lease.
 */
const ACQUIRE_SLOT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local held = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not held and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.ceil(tonumber(last[2])))
return 1
`;

export interface RedisLimitCountersOptions {
  /** `redis://…`. */
  readonly url: string;
  /** Prepended to every key (`pictor:` by default), so several deployments can share a Redis. */
  readonly keyPrefix?: string;
  /** How long one Redis command may take before it fails (Redis unreachable); none: forever. */
  readonly timeoutMs?: number;
}

/**
 * {@link LimitCounters} in Redis, shared by every API node of a cluster. Each operation is one
 * Lua script (or one command), which Redis runs without interleaving another client's: two
 * nodes cannot both take a last token or slot. Buckets expire once they would be full again, a
 * slot set when its last lease ends, so idle keys cost no memory.
 */
export class RedisLimitCounters implements LimitCounters {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: RedisLimitCountersOptions) {
    // Connects on the first command (a CLI that never limits never connects); commands wait
    // for a reconnect rather than fail at once, a few retries at most.
    this.#redis = redisClient(options.url, {
      timeoutMs: options.timeoutMs,
      maxRetriesPerRequest: 3,
    });
    this.#prefix = options.keyPrefix ?? 'pictor:';
  }

  async takeToken(key: string, perMinute: number, now: number): Promise<TokenTake> {
    const [allowed, tokens] = (await this.#redis.eval(
      TAKE_TOKEN,
      1,
      `${this.#prefix}rate:${key}`,
      perMinute,
      now,
    )) as [number, string];
    return { allowed: allowed === 1, tokens: Number(tokens) };
  }

  async acquireSlot(
    key: string,
    holder: string,
    limit: number,
    lease: SlotLease,
  ): Promise<boolean> {
    const taken = await this.#redis.eval(
      ACQUIRE_SLOT,
      1,
      `${this.#prefix}slots:${key}`,
      holder,
      limit,
      lease.now,
      lease.now + lease.leaseMs,
    );
    return taken === 1;
  }

  async releaseSlot(key: string, holder: string): Promise<void> {
    await this.#redis.zrem(`${this.#prefix}slots:${key}`, holder);
  }

  countSlots(key: string, now: number): Promise<number> {
    return this.#redis.zcount(`${this.#prefix}slots:${key}`, `(${now}`, '+inf');
  }

  async close(): Promise<void> {
    // Never connected: `quit` would connect first just to say goodbye.
    if (this.#redis.status === 'wait') return this.#redis.disconnect();
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
