import type { Redis } from 'ioredis';
import { FINAL_EVENTS, type JobEvent } from '../job-event.ts';
import type { JobEventBus, JobEventListener, UnsequencedJobEvent } from '../job-event-bus.ts';
import { redisClient } from './redis-unavailable.ts';

export interface RedisEventBusOptions {
  /** `redis://…` of the Redis every node shares. */
  readonly url: string;
  /** Namespaces every key and the channel (one deployment, or one test run). */
  readonly prefix: string;
  /** How long a finished job's events stay replayable. */
  readonly retainMs: number;
  /** How long an unfinished job's events stay after its last one (a job abandoned by a crash). */
  readonly idleRetainMs: number;
  /** Events kept per job, about (progress of a long job is trimmed from the front). */
  readonly maxEventsPerJob: number;
  /** How long one Redis command may take before it fails (Redis unreachable); none: forever. */
  readonly timeoutMs?: number;
}

/**
 * Appends to the job's stream and publishes in one atomic step, so every subscriber sees a job's
 * events in stream order — unless the stream already ends with a final event (its entry carries
 * the field `final`), after which nothing is appended or published (nil is returned). KEYS:
 * stream, channel. ARGV: stored event, live event, max length, TTL, '1' for a final event.
 */
const PUBLISH_SCRIPT = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if last and last[2][3] == 'final' then return false end
local id
if ARGV[5] == '1' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[1], 'final', '1')
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[2])
return id`;

/** A job's `seq` from its stream entry id `ms-n`: ids stay in the EventHub's microsecond scheme. */
function seqOf(streamId: string): number {
  const [ms, n] = streamId.split('-');
  return Number(ms) * 1000 + Number(n) + 1;
}

/** The stream entry id of `seq` (the inverse of {@link seqOf}). */
function streamIdOf(seq: number): string {
  return `${Math.floor((seq - 1) / 1000)}-${(seq - 1) % 1000}`;
}

/** What the stream keeps of an event: progress previews are live-only (see the port). */
function stored(event: UnsequencedJobEvent): UnsequencedJobEvent {
  if (event.type !== 'progress' || event.data.preview === undefined) return event;
  const data = { ...event.data };
  delete data.preview;
  return { ...event, data };
}

/**
 * {@link JobEventBus} on Redis: each job's events are a stream (`XADD`, entry ids become `seq`,
 * so they increase across nodes and restarts, and `XRANGE` replays), and every event is also
 * published on one channel that each node subscribes to once and fans out locally. Ids hold while
 * a job publishes fewer than 1000 events in a millisecond.
 */
export class RedisEventBus implements JobEventBus {
  readonly #o: RedisEventBusOptions;
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #channel: string;
  #subscribed: Promise<unknown> | undefined;
  readonly #byJob = new Map<string, Set<JobEventListener>>();
  readonly #byOwner = new Map<string, Set<JobEventListener>>();
  readonly #all = new Set<JobEventListener>();

  constructor(options: RedisEventBusOptions) {
    this.#o = options;
    this.#redis = redisClient(options.url, { timeoutMs: options.timeoutMs });
    this.#subscriber = redisClient(options.url, { timeoutMs: options.timeoutMs });
    this.#channel = `${options.prefix}:events`;
    this.#subscriber.on('message', (_channel: string, message: string) => this.#receive(message));
  }

  async publish(event: UnsequencedJobEvent): Promise<JobEvent | undefined> {
    const final = FINAL_EVENTS.includes(event.type);
    const id = (await this.#redis.eval(
      PUBLISH_SCRIPT,
      2,
      this.#streamKey(event.jobId),
      this.#channel,
      JSON.stringify(stored(event)),
      JSON.stringify(event),
      this.#o.maxEventsPerJob,
      final ? this.#o.retainMs : this.#o.idleRetainMs,
      final ? '1' : '0',
    )) as string | null;
    return id === null ? undefined : { ...event, seq: seqOf(id) };
  }

  async replay(jobId: string, afterSeq: number): Promise<JobEvent[]> {
    const start = afterSeq > 0 ? `(${streamIdOf(afterSeq)}` : '-';
    const entries = await this.#redis.xrange(this.#streamKey(jobId), start, '+');
    return entries.map(([id, fields]) => this.#parse(id, fields[1] ?? '{}'));
  }

  onJob(jobId: string, listener: JobEventListener): Promise<() => void> {
    return this.#add(this.#byJob, jobId, listener);
  }

  onOwner(owner: string, listener: JobEventListener): Promise<() => void> {
    return this.#add(this.#byOwner, owner, listener);
  }

  async onAll(listener: JobEventListener): Promise<() => void> {
    await this.#subscribe();
    this.#all.add(listener);
    return () => this.#all.delete(listener);
  }

  async close(): Promise<void> {
    this.#byJob.clear();
    this.#byOwner.clear();
    this.#all.clear();
    // QUIT lets replies in flight arrive (a publish being awaited); a never-used client just drops.
    await Promise.all(
      [this.#subscriber, this.#redis].map((client) =>
        client.status === 'ready' ? client.quit() : Promise.resolve(client.disconnect()),
      ),
    );
  }

  #streamKey(jobId: string): string {
    return `${this.#o.prefix}:job-events:${jobId}`;
  }

  #parse(id: string, json: string): JobEvent {
    return { ...(JSON.parse(json) as UnsequencedJobEvent), seq: seqOf(id) };
  }

  /** Subscribes this node to the channel once; every later subscription is local. */
  #subscribe(): Promise<unknown> {
    this.#subscribed ??= this.#subscriber.subscribe(this.#channel);
    return this.#subscribed;
  }

  async #add(
    index: Map<string, Set<JobEventListener>>,
    key: string,
    listener: JobEventListener,
  ): Promise<() => void> {
    await this.#subscribe();
    let set = index.get(key);
    if (!set) index.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && index.get(key) === set) index.delete(key);
    };
  }

  #receive(message: string): void {
    const space = message.indexOf(' ');
    const event = this.#parse(message.slice(0, space), message.slice(space + 1));
    const listeners = [
      ...(this.#byJob.get(event.jobId) ?? []),
      ...(this.#byOwner.get(event.owner) ?? []),
      ...this.#all,
    ];
    for (const listener of listeners) {
      try {
        listener(event);
      } catch {
        // A failing subscriber must not break delivery to the others.
      }
    }
  }
}
