import { ApiError, type ApiClient } from './api-client.ts';

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
 * Follows a job's Server-Sent Events through `fetch`, so the key travels in a header (an
 * `EventSource` cannot send one). A dropped connection (server restart, network) is resumed with
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
      await readEvents(response, receive);
    } catch (error) {
      if (signal.aborted || error instanceof ApiError) throw error;
      // The server or the network went away: wait a moment, then resume after the last event.
      console.warn(`events of job ${jobId} interrupted; resuming`, error);
    }
    if (!finished) await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}

async function readEvents(
  response: Response,
  receive: (id: string | undefined, event: JobEvent) => void,
): Promise<void> {
  const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
  if (!reader) return;
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    let end = buffered.indexOf('\n\n');
    while (end >= 0) {
      const parsed = parseEvent(buffered.slice(0, end));
      if (parsed) receive(parsed.id, parsed.event);
      buffered = buffered.slice(end + 2);
      end = buffered.indexOf('\n\n');
    }
  }
}

function parseEvent(block: string): { id: string | undefined; event: JobEvent } | undefined {
  let id: string | undefined;
  let type = '';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('id: ')) id = line.slice(4);
    else if (line.startsWith('event: ')) type = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (type === '' || data === '') return undefined; // a keep-alive comment
  return { id, event: { ...(JSON.parse(data) as object), type } as JobEvent };
}
