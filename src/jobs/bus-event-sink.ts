import type { JobEventData, JobEventType } from './job-event.ts';
import type { JobEventBus, UnsequencedJobEvent } from './job-event-bus.ts';
import type { JobEventSink } from './lifecycle-ports.ts';
import type { Logger } from './logger.ts';

/**
 * The lifecycle's events, published on the cross-process bus (a worker node's progress reaches
 * the API node its client is connected to). The bus orders a job's events by publish, so each
 * job's events are published one after the other, in the order they were emitted.
 */
export class BusEventSink implements JobEventSink {
  readonly #bus: JobEventBus;
  readonly #logger: Logger;
  /** Per job, the publish of its last emitted event. */
  readonly #tails = new Map<string, Promise<void>>();

  constructor(bus: JobEventBus, logger: Logger) {
    this.#bus = bus;
    this.#logger = logger;
  }

  emit<T extends JobEventType>(jobId: string, owner: string, type: T, data: JobEventData[T]): void {
    // The mapped union cannot be narrowed from a generic `T`; `type` and `data` agree by signature.
    const event = { jobId, owner, type, data } as UnsequencedJobEvent;
    const tail = (this.#tails.get(jobId) ?? Promise.resolve())
      .then(() => this.#bus.publish(event))
      .then(
        () => undefined,
        (error: unknown) => {
          // The job's state is in the repository; a client polling or reconnecting still sees it.
          this.#logger.error({ err: error, jobId, type }, 'publishing a job event failed');
        },
      );
    this.#tails.set(jobId, tail);
    void tail.then(() => {
      if (this.#tails.get(jobId) === tail) this.#tails.delete(jobId);
    });
  }

  /** Resolves once every event emitted so far is published (or its failure logged). */
  async flush(): Promise<void> {
    await Promise.all(this.#tails.values());
  }
}
