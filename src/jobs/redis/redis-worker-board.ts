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

/**
 * {@link WorkerBoard} on Redis: one key per node, `<prefix>:workers:<nodeId>`, holding its
 * advertisement as JSON with Redis's own expiry (`PX`), so a node that stops renewing vanishes
 * without anyone cleaning up. Listing scans the prefix's worker keys.
 */
export class RedisWorkerBoard implements WorkerBoard {
  readonly #redis: Redis;
  readonly #keyPrefix: string;

  constructor(options: RedisWorkerBoardOptions) {
    this.#redis = redisClient(options.url, { timeoutMs: options.timeoutMs });
    this.#keyPrefix = `${options.prefix}:workers:`;
  }

  async publish(advertisement: WorkerAdvertisement, ttlMs: number): Promise<void> {
    const key = this.#keyPrefix + advertisement.nodeId;
    await this.#redis.set(key, JSON.stringify(advertisement), 'PX', Math.max(1, ttlMs));
  }

  async withdraw(nodeId: string): Promise<void> {
    await this.#redis.del(this.#keyPrefix + nodeId);
  }

  async live(): Promise<readonly WorkerAdvertisement[]> {
    const keys = new Set<string>();
    let cursor = '0';
    do {
      const [next, found] = await this.#redis.scan(
        cursor,
        'MATCH',
        `${escapeGlob(this.#keyPrefix)}*`,
        'COUNT',
        500,
      );
      cursor = next;
      for (const key of found) keys.add(key);
    } while (cursor !== '0');
    if (keys.size === 0) return [];
    // A key that expired between the scan and the read comes back null.
    const values = await this.#redis.mget(...keys);
    return values
      .filter((value): value is string => value !== null)
      .map((value) => JSON.parse(value) as WorkerAdvertisement)
      .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}

/** `text` matched literally by a Redis glob pattern. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
