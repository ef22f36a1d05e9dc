import { randomUUID } from 'node:crypto';
import { ErrorCode, Job as BullJob, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DispatchItem, DispatchQueue, Lease } from '../dispatch-queue.ts';
import { placeForNode, type NodeHoldings } from '../model-placement.ts';
import { commandTimeout, redisClient } from './redis-unavailable.ts';

export interface BullmqDispatchQueueOptions {
  /** `redis://…` of the Redis every node shares. */
  readonly url: string;
  /** Namespaces every key (one deployment, or one test run). */
  readonly prefix: string;
  readonly queueName: string;
  /** How long a claim holds without a heartbeat (BullMQ's lock duration). */
  readonly leaseMs: number;
  /** How often expired leases are looked for (BullMQ's stalled interval). */
  readonly checkIntervalMs: number;
  /** How long one Redis command may take before it fails (Redis unreachable); none: forever. */
  readonly timeoutMs?: number;
}

/** One model's jobs: a BullMQ queue, and the worker handle that claims from it. */
interface Lane {
  readonly queue: Queue<DispatchItem>;
  readonly worker: Worker<DispatchItem>;
}

/** A lane's waiting job, as a claim compares them. */
interface LaneJob {
  readonly model: string;
  /** BullMQ's: lower runs first. */
  readonly priority: number;
  readonly timestamp: number;
}

/**
 * Records a node's holdings (or, with an empty value, forgets them) and answers every live
 * node's, in one step on Redis's clock: the holdings of a node that stopped renewing them are
 * dropped here, whichever node claims next, and no two nodes' clocks are compared.
 * KEYS: the holdings hash (node → JSON), the expiry set (node → epoch ms).
 * ARGV: node id, holdings JSON or '', time to live in ms.
 */
const PRESENT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('HDEL', KEYS[1], node)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
end
return redis.call('HVALS', KEYS[1])
`;

/** Tries of a claim whose chosen lane was emptied by another node meanwhile. */
const CLAIM_TRIES = 5;

/** BullMQ's priorities run from 1 (first) to 2^21 − 1; Pictor's higher numbers run first. */
const BULL_PRIORITY_MIDDLE = 1_048_576;
const BULL_PRIORITY_MAX = 2_097_151;

/** What BullMQ answers when a lock is not the caller's (expired, taken over) or the job is gone. */
const LEASE_LOST: readonly unknown[] = [
  ErrorCode.JobNotExist,
  ErrorCode.JobLockNotExist,
  ErrorCode.JobNotInState,
  ErrorCode.JobLockMismatch,
];

function bullPriority(priority: number): number {
  return Math.min(BULL_PRIORITY_MAX, Math.max(1, BULL_PRIORITY_MIDDLE - Math.round(priority)));
}

/**
 * {@link DispatchQueue} on BullMQ (Redis), shared by every node. Each model's jobs wait in a
 * BullMQ queue of their own (a lane; the lanes' names are a Redis set every node reads), so a
 * claim can pick the model: it records the node's holdings and reads every live node's (one Lua
 * script, `<prefix>:<queue>-nodes`), reads the lanes' first jobs (as many per lane as there are
 * workers, all placement can pass over) in run order, lets {@link placeForNode} choose, and takes
 * the first job of the chosen lane — any job of a lane serves placement alike, it reads only the
 * model. A claim is BullMQ's manual fetch (`getNextJob` with a fresh token: the job's lock is the
 * lease), a heartbeat extends the lock, and BullMQ's stalled checker — one pass per interval and
 * lane across all nodes — puts jobs whose lock expired back to wait. BullMQ never fails a job by
 * itself here: attempts are counted in the repository, so its stalled limit is set out of reach
 * and finished jobs leave Redis at once.
 */
export class BullmqDispatchQueue implements DispatchQueue {
  readonly #o: BullmqDispatchQueueOptions;
  readonly #redis: Redis;
  readonly #lanesKey: string;
  /** Every live node's holdings (node → JSON), and when each expires (node → epoch ms). */
  readonly #nodesKeys: readonly [string, string];
  readonly #lanes = new Map<string, Lane>();
  /** Jobs this node holds, by lease token (BullMQ's lock calls need the job object). */
  readonly #held = new Map<string, BullJob<DispatchItem>>();

  constructor(options: BullmqDispatchQueueOptions) {
    this.#o = options;
    this.#redis = redisClient(options.url, {
      timeoutMs: options.timeoutMs,
      maxRetriesPerRequest: null,
    });
    this.#lanesKey = `${options.prefix}:${options.queueName}-lanes`;
    const nodesKey = `${options.prefix}:${options.queueName}-nodes`;
    this.#nodesKeys = [nodesKey, `${nodesKey}-expiry`];
  }

  async add(item: DispatchItem): Promise<void> {
    // Named first: a node listing the lanes then finds the job's.
    await this.#redis.sadd(this.#lanesKey, item.model);
    // The job id deduplicates: adding a job that is waiting or active is a no-op.
    await this.#lane(item.model).queue.add('generate', item, {
      jobId: item.jobId,
      priority: bullPriority(item.priority),
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  async claim(node?: NodeHoldings): Promise<Lease | undefined> {
    for (let tries = 0; tries < CLAIM_TRIES; tries++) {
      const nodes = node ? await this.#present(node) : [];
      const workers = nodes.reduce((sum, n) => sum + n.workers.length, 0);
      const waiting = await this.#waiting(Math.max(1, workers + 1));
      const placed = node ? placeForNode(waiting, node, nodes) : { entry: waiting[0], worker: 0 };
      if (!placed?.entry) return undefined;
      const { model } = placed.entry;
      if (node) {
        // Busy with the job's model from now, for the other nodes' claims; a claim that finds
        // the lane emptied records the truth again on its next try.
        await this.#present({
          node: node.node,
          workers: node.workers.map((w) =>
            w.worker === placed.worker ? { ...w, idle: false, models: [...w.models, model] } : w,
          ),
        });
      }
      const lease = await this.#take(model, node ? placed.worker : undefined);
      if (lease) return lease;
    }
    return undefined;
  }

  async claimModel(model: string): Promise<Lease | undefined> {
    return (await this.#redis.sismember(this.#lanesKey, model)) === 1
      ? this.#take(model, undefined)
      : undefined;
  }

  async present(node: NodeHoldings): Promise<void> {
    await this.#present(node);
  }

  async withdraw(node: string): Promise<void> {
    await this.#redis.eval(PRESENT_SCRIPT, 2, ...this.#nodesKeys, node, '', 0);
  }

  async heartbeat(lease: Lease): Promise<boolean> {
    const job = await this.#jobOf(lease);
    return job !== undefined && (await job.extendLock(lease.token, this.#o.leaseMs)) === 1;
  }

  async complete(lease: Lease): Promise<boolean> {
    return this.#finish(lease, (job) => job.moveToCompleted(null, lease.token, false));
  }

  async release(lease: Lease): Promise<boolean> {
    return this.#finish(lease, (job) => job.moveToWait(lease.token));
  }

  async remove(jobId: string): Promise<boolean> {
    for (const lane of await this.#allLanes()) {
      const state = await lane.queue.getJobState(jobId);
      if (state !== 'waiting' && state !== 'prioritized') continue;
      // BullMQ does not remove a locked job: one claimed meanwhile stays with its holder.
      return (await lane.queue.remove(jobId)) === 1;
    }
    return false;
  }

  async state(jobId: string): Promise<'waiting' | 'leased' | undefined> {
    for (const lane of await this.#allLanes()) {
      const state = await lane.queue.getJobState(jobId);
      if (state === 'waiting' || state === 'prioritized') return 'waiting';
      if (state === 'active') return 'leased';
    }
    return undefined;
  }

  async waitingCount(): Promise<number> {
    let count = 0;
    for (const lane of await this.#allLanes())
      count += await lane.queue.getJobCountByTypes('waiting', 'prioritized');
    return count;
  }

  async close(): Promise<void> {
    for (const lane of this.#lanes.values()) {
      await lane.worker.close(true);
      await lane.queue.close();
    }
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  /** The lane of a model, opened on first use (and its stalled checker started). */
  #lane(model: string): Lane {
    let lane = this.#lanes.get(model);
    if (lane) return lane;
    const connection = {
      url: this.#o.url,
      maxRetriesPerRequest: null,
      ...commandTimeout(this.#o.timeoutMs),
    };
    const { prefix, leaseMs, checkIntervalMs } = this.#o;
    // BullMQ queue names cannot hold ':', which model names may (`hf:org/repo`).
    const name = `${this.#o.queueName}-${Buffer.from(model).toString('base64url')}`;
    const queue = new Queue<DispatchItem>(name, { connection, prefix });
    const worker = new Worker<DispatchItem>(name, null, {
      connection,
      prefix,
      autorun: false,
      lockDuration: leaseMs,
      skipLockRenewal: true,
      stalledInterval: checkIntervalMs,
      maxStalledCount: Number.MAX_SAFE_INTEGER,
    });
    // Connection errors surface in the calls that fail; without a listener they would throw.
    queue.on('error', () => undefined);
    worker.on('error', () => undefined);
    void worker.startStalledCheckTimer();
    lane = { queue, worker };
    this.#lanes.set(model, lane);
    return lane;
  }

  async #allLanes(): Promise<Lane[]> {
    const models = await this.#redis.smembers(this.#lanesKey);
    return models.map((model) => this.#lane(model));
  }

  /** Records the node's holdings; every live node's (this one's included). */
  async #present(node: NodeHoldings): Promise<NodeHoldings[]> {
    const live = (await this.#redis.eval(
      PRESENT_SCRIPT,
      2,
      ...this.#nodesKeys,
      node.node,
      JSON.stringify(node),
      this.#o.leaseMs,
    )) as string[];
    return live.map((json) => JSON.parse(json) as NodeHoldings);
  }

  /** The first `perLane` waiting jobs of each lane, in run order across lanes. */
  async #waiting(perLane: number): Promise<LaneJob[]> {
    const models = await this.#redis.smembers(this.#lanesKey);
    const jobs: LaneJob[] = [];
    for (const model of models) {
      const { queue } = this.#lane(model);
      // A job whose lease expired waits in BullMQ's plain list, which is taken first (its right
      // end next); every other waiting job, having a priority, in the prioritized set, in order.
      const back = (await this.#redis.lrange(queue.toKey('wait'), -perLane, -1)).reverse();
      const returned = await Promise.all(back.map((id) => BullJob.fromId(queue, id)));
      const rest =
        perLane > back.length ? await queue.getPrioritized(0, perLane - back.length - 1) : [];
      for (const job of [...returned, ...rest])
        if (job) jobs.push({ model, priority: job.priority, timestamp: job.timestamp });
    }
    return jobs.sort((a, b) => a.priority - b.priority || a.timestamp - b.timestamp);
  }

  /** Leases the next job of a model's lane; undefined when another node emptied it meanwhile. */
  async #take(model: string, worker: number | undefined): Promise<Lease | undefined> {
    const token = randomUUID();
    const job = (await this.#lane(model).worker.getNextJob(token, { block: false })) as
      BullJob<DispatchItem> | undefined;
    if (!job) return undefined;
    this.#held.set(token, job);
    return { item: job.data, token, delivery: job.attemptsStarted, worker };
  }

  async #jobOf(lease: Lease): Promise<BullJob<DispatchItem> | undefined> {
    return (
      this.#held.get(lease.token) ??
      (await BullJob.fromId(this.#lane(lease.item.model).queue, lease.item.jobId))
    );
  }

  /** Ends the lease with `end`; false (nothing changed) when the lock is no longer the lease's. */
  async #finish(
    lease: Lease,
    end: (job: BullJob<DispatchItem>) => Promise<unknown>,
  ): Promise<boolean> {
    const job = await this.#jobOf(lease);
    if (!job) return false;
    try {
      await end(job);
      return true;
    } catch (error) {
      if (LEASE_LOST.includes((error as { code?: unknown }).code)) return false;
      throw error; // Redis unreachable: not an answer about the lease
    } finally {
      this.#held.delete(lease.token);
    }
  }
}
