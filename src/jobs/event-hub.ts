import { isFinalEvent, type JobEvent, type JobEventData, type JobEventType } from './job-event.ts';

type Listener = (event: JobEvent) => void;

interface JobLog {
  readonly owner: string;
  readonly events: JobEvent[];
  readonly listeners: Set<Listener>;
  finishedAt: number | undefined;
  /** The id of the log's first event (see the class comment). */
  readonly firstSeq: number;
}

/**
 * Fans job events out to SSE streams, WebSockets, webhooks and metrics, and keeps each job's
 * events so a client reconnecting with `Last-Event-ID` misses nothing. Logs of finished jobs are
 * dropped after `retainMs`.
 *
 * The log lives in memory: a restart empties it, and a finished job's log is pruned. So a job's
 * event ids (`seq`) count up from the time its log was started, in microseconds: a log started
 * again later (after a restart or a prune) gives ids above every earlier one, and a client that
 * reconnects with an old `Last-Event-ID` is sent everything the log knows — the job queued again,
 * or its final state — and every event after. (This holds while a log gives fewer than 1000
 * events per millisecond it lives, which no job comes near.)
 */
export class EventHub {
  readonly #logs = new Map<string, JobLog>();
  readonly #owners = new Map<string, Set<Listener>>();
  readonly #all = new Set<Listener>();
  readonly #retainMs: number;

  constructor(retainMs = 10 * 60_000) {
    this.#retainMs = retainMs;
  }

  #log(jobId: string, owner: string): JobLog {
    let log = this.#logs.get(jobId);
    if (!log) {
      log = {
        owner,
        events: [],
        listeners: new Set(),
        finishedAt: undefined,
        firstSeq: Date.now() * 1000 + 1,
      };
      this.#logs.set(jobId, log);
    }
    return log;
  }

  /**
   * Records and delivers an event; returns it with its sequence number. A job's log ends with
   * its final event: anything emitted for it later (a progress that crossed a cancel, a second
   * final event) is dropped, and undefined returned.
   */
  emit<T extends JobEventType>(
    jobId: string,
    owner: string,
    type: T,
    data: JobEventData[T],
  ): JobEvent | undefined {
    const log = this.#log(jobId, owner);
    if (log.finishedAt !== undefined) return undefined;
    const seq = (log.events.at(-1)?.seq ?? log.firstSeq - 1) + 1;
    // The mapped union cannot be narrowed from a generic `T`; `type` and `data` agree by signature.
    const event = { seq, jobId, owner, type, data } as JobEvent;
    // Progress previews are large; keep only the last one in the replay log.
    const last = log.events.at(-1);
    if (event.type === 'progress' && last?.type === 'progress' && last.data.preview !== undefined) {
      const rest = { ...last.data };
      delete rest.preview;
      log.events[log.events.length - 1] = { ...last, data: rest };
    }
    log.events.push(event);
    if (isFinalEvent(event)) log.finishedAt = Date.now();
    for (const listener of [...log.listeners, ...(this.#owners.get(owner) ?? []), ...this.#all]) {
      try {
        listener(event);
      } catch {
        // A failing subscriber must not break delivery to the others.
      }
    }
    return event;
  }

  /** Events of a job after `afterSeq` (0 for all). */
  history(jobId: string, afterSeq = 0): JobEvent[] {
    return (this.#logs.get(jobId)?.events ?? []).filter((e) => e.seq > afterSeq);
  }

  /** Subscribes to one job's future events; returns the unsubscribe function. */
  onJob(jobId: string, owner: string, listener: Listener): () => void {
    const log = this.#log(jobId, owner);
    log.listeners.add(listener);
    return () => log.listeners.delete(listener);
  }

  /** Subscribes to every future event of an owner's jobs. */
  onOwner(owner: string, listener: Listener): () => void {
    let set = this.#owners.get(owner);
    if (!set) this.#owners.set(owner, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#owners.delete(owner);
    };
  }

  /** Subscribes to every event (metrics, webhooks). */
  onAll(listener: Listener): () => void {
    this.#all.add(listener);
    return () => this.#all.delete(listener);
  }

  /** Drops logs of jobs finished more than `retainMs` ago. */
  prune(now = Date.now()): void {
    for (const [jobId, log] of this.#logs) {
      if (
        log.finishedAt !== undefined &&
        now - log.finishedAt > this.#retainMs &&
        log.listeners.size === 0
      ) {
        this.#logs.delete(jobId);
      }
    }
  }
}
