import type { EventHub } from '../event-hub.ts';
import type { JobEvent } from '../job-event.ts';
import type { JobEventBus, JobEventListener, UnsequencedJobEvent } from '../job-event-bus.ts';

/**
 * {@link JobEventBus} within one process, on the {@link EventHub} the embedded mode already
 * uses (its ids, replay log and retention), so both views of the events are the same.
 */
export class InProcessEventBus implements JobEventBus {
  readonly #hub: EventHub;
  readonly #subscriptions = new Set<() => void>();

  constructor(hub: EventHub) {
    this.#hub = hub;
  }

  publish(event: UnsequencedJobEvent): Promise<JobEvent | undefined> {
    return Promise.resolve(this.#hub.emit(event.jobId, event.owner, event.type, event.data));
  }

  replay(jobId: string, afterSeq: number): Promise<JobEvent[]> {
    return Promise.resolve(this.#hub.history(jobId, afterSeq));
  }

  onJob(jobId: string, listener: JobEventListener): Promise<() => void> {
    // The hub files a job's log under its owner; a subscriber by id need not know it.
    return this.#track(this.#hub.onJob(jobId, '', listener));
  }

  onOwner(owner: string, listener: JobEventListener): Promise<() => void> {
    return this.#track(this.#hub.onOwner(owner, listener));
  }

  onAll(listener: JobEventListener): Promise<() => void> {
    return this.#track(this.#hub.onAll(listener));
  }

  close(): Promise<void> {
    for (const unsubscribe of this.#subscriptions) unsubscribe();
    this.#subscriptions.clear();
    return Promise.resolve();
  }

  #track(off: () => void): Promise<() => void> {
    const unsubscribe = (): void => {
      off();
      this.#subscriptions.delete(unsubscribe);
    };
    this.#subscriptions.add(unsubscribe);
    return Promise.resolve(unsubscribe);
  }
}
