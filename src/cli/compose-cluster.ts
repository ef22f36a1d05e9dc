import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { PictorConfig } from '../config/index.ts';
import { BullmqDispatchQueue } from '../jobs/redis/bullmq-dispatch-queue.ts';
import { RedisClusterLock } from '../jobs/redis/redis-cluster-lock.ts';
import { RedisEventBus } from '../jobs/redis/redis-event-bus.ts';
import { RedisWorkerBoard } from '../jobs/redis/redis-worker-board.ts';

/**
 * What the nodes of a cluster share in Redis: the dispatch queue, the event bus, the worker
 * board, and the lock that gives each cluster duty to one node.
 */
export function createClusterPorts(config: PictorConfig): {
  queue: BullmqDispatchQueue;
  bus: RedisEventBus;
  board: RedisWorkerBoard;
  lock: RedisClusterLock;
} {
  const { url, prefix, timeoutMs } = config.redis;
  const leaseMs = config.cluster.leaseMs;
  return {
    queue: new BullmqDispatchQueue({
      url,
      prefix,
      queueName: 'jobs',
      leaseMs,
      // An expired lease is noticed within half a lease: a lost job waits at most 1.5 leases.
      checkIntervalMs: Math.max(250, Math.round(leaseMs / 2)),
      timeoutMs,
    }),
    bus: new RedisEventBus({
      url,
      prefix,
      // As long as the embedded mode keeps a finished job's events (EventHub).
      retainMs: 10 * 60_000,
      idleRetainMs: 60 * 60_000,
      maxEventsPerJob: 1000,
      timeoutMs,
    }),
    board: new RedisWorkerBoard({ url, prefix, timeoutMs }),
    lock: new RedisClusterLock({ url, prefix, timeoutMs }),
  };
}

/** A cluster node's id (on the worker board, and as the holder of a duty): unique per process. */
export function newNodeId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
