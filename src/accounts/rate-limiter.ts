import type { LimitCounters } from './limit-counters.ts';

/** The outcome of one request against a bucket; `headers` go on every response. */
export interface RateDecision {
  readonly allowed: boolean;
  /** Seconds until a request would be allowed (0 when allowed). */
  readonly retryAfter: number;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Per-key rate limits as token buckets in {@link LimitCounters} (this process's memory, or Redis
 * shared by every API node): each holds up to `perMinute` tokens (the burst) and refills at
 * `perMinute / 60` tokens per second; a request takes one. Headers follow the IETF RateLimit
 * fields draft: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the
 * bucket is full again).
 */
export class RateLimiter {
  readonly #counters: LimitCounters;

  constructor(counters: LimitCounters) {
    this.#counters = counters;
  }

  async take(id: string, perMinute: number, now = Date.now()): Promise<RateDecision> {
    const { allowed, tokens } = await this.#counters.takeToken(id, perMinute, now);
    const ratePerMs = perMinute / 60_000;
    const reset = Math.ceil((perMinute - tokens) / ratePerMs / 1000);
    const retryAfter = allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / ratePerMs / 1000));
    return {
      allowed,
      retryAfter,
      headers: {
        'ratelimit-limit': String(perMinute),
        'ratelimit-remaining': String(Math.floor(tokens)),
        'ratelimit-reset': String(reset),
        'ratelimit-policy': `${perMinute};w=60`,
      },
    };
  }
}
