import { ApiError, type ApiClient } from './api-client.ts';
import { readServerSentEvents } from './server-sent-events.ts';

/** The events of one job as `/v1/jobs/{id}/events` sends them. */
export type JobEvent =
  | { readonly type: 'queued'; readonly position: number; readonly eta: number }
  | { readonly type: 'started' }
  | {
      readonly type: 'progress';
      readonly step: number;
      readonly total_steps: number;
      readonly preview?: string;
    }
  | { readonly type: 'completed' }
  | { readonly type: 'failed'; readonly error?: { readonly message?: string } | string }
  | { readonly type: 'cancelled' }
  | { readonly type: 'expired' };

const FINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled', 'expired']);
const RECONNECT_MS = 1000;

/**
 * Follows a job's Server-Sent Events. A dropped connection (server restart, network) is resumed with
 * `Last-Event-ID`, so no event is missed. Resolves after the final event; rejects when the API
 * refuses (e.g. the job is unknown) or `signal` aborts.
 */
export async function followJobEvents(
  api: ApiClient,
  jobId: string,
  onEvent: (event: JobEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  let lastId: string | undefined;
  let finished = false;
  const receive = (id: string | undefined, event: JobEvent): void => {
    lastId = id ?? lastId;
    finished ||= FINAL.has(event.type);
    onEvent(event);
  };
  while (!finished && !signal.aborted) {
    try {
      const response = await api.fetch(`/v1/jobs/${encodeURIComponent(jobId)}/events`, {
        signal,
        headers: lastId === undefined ? {} : { 'last-event-id': lastId },
      });
      await readServerSentEvents(response, (e) => {
        // Job events are named (`event: progress`); an unnamed one is not a job event.
        if (e.type !== '')
          receive(e.id, { ...(JSON.parse(e.data) as object), type: e.type } as JobEvent);
      });
    } catch (error) {
      if (signal.aborted || error instanceof ApiError) throw error;
      // The server or the network went away: wait a moment, then resume after the last event.
      console.warn(`events of job ${jobId} interrupted; resuming`, error);
    }
    if (!finished) await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}
