import type { JobEventData, JobEventType } from './job-event.ts';
import type { QueueEntry } from './job-queue.ts';

/**
 * Where the lifecycle sends a job's events, in the order it emits them: the {@link EventHub} in
 * the embedded mode, the cross-process bus on a cluster node ({@link BusEventSink}).
 */
export interface JobEventSink {
  emit<T extends JobEventType>(
    jobId: string,
    owner: string,
    type: T,
    data: JobEventData[T],
  ): unknown;
}

/**
 * What the lifecycle does to the queue: put a job (back) in it, take an ended one out, and tell
 * a job's place when it knows it. The embedded mode's {@link JobQueue} answers at once; a cluster
 * node's adapter ({@link DispatchFeed}) works on the shared dispatch queue, never rejects (the
 * repository, restored from, is the source of truth) and knows no positions.
 */
export interface LifecycleQueue {
  add(entry: QueueEntry): void | Promise<void>;
  remove(id: string): boolean | Promise<boolean>;
  /** Jobs ahead of `id`, or undefined when not known here. */
  position(id: string): number | undefined;
}
