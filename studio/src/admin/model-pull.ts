import { ApiError, type ApiClient } from '../api-client.ts';
import type { PullEvent, PullView } from '../api-types.ts';
import { readServerSentEvents } from '../server-sent-events.ts';

/** What the page shows of one pull, folded from its events. */
export interface PullProgress {
  readonly id: string;
  readonly source: string;
  readonly eventsUrl: string;
  readonly model: string | undefined;
  readonly status: PullEvent['status'];
  /** The file being downloaded or verified. */
  readonly file: string | undefined;
  readonly files: Readonly<Record<string, { readonly total: number; readonly completed: number }>>;
  readonly error: string | undefined;
}

/** A pull as the API accepted it; `name` is the one asked for (the source says it later). */
export function pullStarted(view: PullView, name?: string): PullProgress {
  return {
    id: view.pull_id,
    source: view.source,
    eventsUrl: view.events_url,
    model: view.model ?? name,
    status: 'pulling manifest',
    file: undefined,
    files: {},
    error: undefined,
  };
}

/** The pull after one more event (events are replayed from the start on a reconnect: idempotent). */
export function pullAfter(pull: PullProgress, event: PullEvent): PullProgress {
  switch (event.status) {
    case 'pulling manifest':
      return { ...pull, status: event.status };
    case 'downloading':
      return {
        ...pull,
        status: event.status,
        file: event.file,
        files: {
          ...pull.files,
          [event.file]: { total: event.total ?? 0, completed: event.completed },
        },
      };
    case 'verifying':
      return { ...pull, status: event.status, file: event.file };
    case 'success':
      return { ...pull, status: event.status, model: event.model, file: undefined };
    case 'error':
      return { ...pull, status: event.status, error: event.error, file: undefined };
  }
}

export function isFinished(pull: PullProgress): boolean {
  return pull.status === 'success' || pull.status === 'error';
}

/**
 * What the pull is doing, for people: files download in parallel and the small ones finish (and
 * verify) first, so the last event says little; this names the biggest file still under way.
 */
export function pullStage(pull: PullProgress): { stage: string; file: string | undefined } {
  if (pull.status === 'pulling manifest' || isFinished(pull))
    return { stage: pull.status, file: undefined };
  const pending = Object.entries(pull.files)
    .filter(([, f]) => f.total === 0 || f.completed < f.total)
    .sort(([, a], [, b]) => b.total - a.total);
  const file = pending[0]?.[0];
  return file === undefined
    ? { stage: 'verifying', file: pull.file }
    : { stage: 'downloading', file };
}

/** Bytes done and expected over the files seen so far. */
export function pullBytes(pull: PullProgress): { total: number; completed: number } {
  let total = 0;
  let completed = 0;
  for (const file of Object.values(pull.files)) {
    total += file.total;
    completed += file.completed;
  }
  return { total, completed };
}

const RECONNECT_MS = 1000;

/**
 * Follows a pull's event stream until `success` or `error`. The server replays a pull's events
 * to every new reader, so a dropped connection is simply read again.
 */
export async function followPull(
  api: ApiClient,
  eventsUrl: string,
  onEvent: (event: PullEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  let finished = false;
  while (!finished && !signal.aborted) {
    try {
      const response = await api.fetch(eventsUrl, { signal });
      await readServerSentEvents(response, (e) => {
        const event = JSON.parse(e.data) as PullEvent;
        finished ||= event.status === 'success' || event.status === 'error';
        onEvent(event);
      });
    } catch (error) {
      if (signal.aborted || error instanceof ApiError) throw error;
      console.warn(`events of pull ${eventsUrl} interrupted; reading again`, error);
    }
    if (!finished) await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}
