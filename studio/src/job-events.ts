import type { ApiClient } from './api-client.ts';

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

/**
 * Follows a job's Server-Sent Events through `fetch`, so the key travels in a header (an
 * `EventSource` cannot send one). Resolves when the stream ends (after the final event) or
 * `signal` aborts.
 */
export async function followJobEvents(
  api: ApiClient,
  jobId: string,
  onEvent: (event: JobEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await api.fetch(`/v1/jobs/${encodeURIComponent(jobId)}/events`, { signal });
  const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
  if (!reader) return;
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    let end = buffered.indexOf('\n\n');
    while (end >= 0) {
      const event = parseEvent(buffered.slice(0, end));
      if (event) onEvent(event);
      buffered = buffered.slice(end + 2);
      end = buffered.indexOf('\n\n');
    }
  }
}

function parseEvent(block: string): JobEvent | undefined {
  let type = '';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) type = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (type === '' || data === '') return undefined; // a keep-alive comment
  return { ...(JSON.parse(data) as object), type } as JobEvent;
}
