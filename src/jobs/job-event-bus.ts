import type { JobEvent, JobEventType } from './job-event.ts';

/** A job event before the bus gave it its place in the job's stream (`seq`). */
export type UnsequencedJobEvent = {
  readonly [T in JobEventType]: Omit<Extract<JobEvent, { type: T }>, 'seq'>;
}[JobEventType];

export type JobEventListener = (event: JobEvent) => void;

/**
 * Carries job events between processes: a worker node publishes a job's progress, and the API
 * node a client is connected to delivers it. Each job's events form a stream kept for a while, so
 * a client reconnecting (to any API node) with the last `seq` it saw gets what it missed
 * ({@link followJob}). `in-process/` implements it on the {@link EventHub}; `redis/` on Redis
 * streams and pub/sub. One conformance suite (`test/jobs/conformance/`) runs over both.
 *
 * Contract:
 * - `publish` gives the event the next `seq` of its job — strictly greater than every earlier
 *   one of that job, also across nodes and across a restart of the publisher — and delivers it to
 *   every subscriber on every node; it resolves with the sequenced event once it is stored, so it
 *   is in `replay` from then on.
 * - A job's stream ends with its first final event, decided where it is stored (atomically with
 *   the append): an event published for the job after that — a worker's progress that crossed
 *   an API node's cancel, a final event synthesized for a stream that already has one — is
 *   neither stored nor delivered, and `publish` resolves undefined. So every subscriber and
 *   replay sees exactly one final event, last.
 * - Subscribers get each job's events in `seq` order, each once. A subscription is active once
 *   its promise resolves: every event published after that reaches it.
 * - `replay` answers a job's retained events after `afterSeq`, in order. A replayed `progress`
 *   event may lack its `preview` (previews are large; live delivery always has them).
 * - A failing listener does not stop delivery to the others.
 */
export interface JobEventBus {
  publish(event: UnsequencedJobEvent): Promise<JobEvent | undefined>;
  replay(jobId: string, afterSeq: number): Promise<JobEvent[]>;
  /** Future events of one job; resolves with the unsubscribe function once active. */
  onJob(jobId: string, listener: JobEventListener): Promise<() => void>;
  /** Future events of every job of `owner` (the WebSocket of an API key). */
  onOwner(owner: string, listener: JobEventListener): Promise<() => void>;
  /** Every future event (metrics, admission counters). */
  onAll(listener: JobEventListener): Promise<() => void>;
  /** Stops delivery to this process's subscribers and closes connections. */
  close(): Promise<void>;
}

/**
 * A subscription's unsubscribe function before it is active, for callers that must be able to
 * end it at once (a socket closing while its subscription is still being set up): called early,
 * it unsubscribes as soon as the subscription is active.
 */
export function unsubscribeLater(subscribing: Promise<() => void>): () => void {
  let ended = false;
  let off: (() => void) | undefined;
  void subscribing.then(
    (unsubscribe) => {
      if (ended) unsubscribe();
      else off = unsubscribe;
    },
    () => undefined,
  );
  return () => {
    ended = true;
    off?.();
    off = undefined;
  };
}
