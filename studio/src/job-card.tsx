import { useEffect, useState } from 'preact/hooks';
import type { ApiClient } from './api-client.ts';
import type { JobView } from './api-types.ts';
import { followJobEvents, type JobEvent } from './job-events.ts';
import { ProblemBanner } from './problem-banner.tsx';
import type { ResultActions } from './result-actions.ts';
import { ResultImages } from './result-images.tsx';

interface Props {
  readonly api: ApiClient;
  readonly jobId: string;
  readonly prompt: string;
  readonly actions: ResultActions;
  readonly onClose: () => void;
}

interface Live {
  readonly status: string;
  readonly position?: number;
  readonly eta?: number;
  readonly step?: number;
  readonly totalSteps?: number;
  readonly preview?: string;
  readonly error?: string;
}

function next(live: Live, event: JobEvent): Live {
  switch (event.type) {
    case 'queued':
      return { status: 'queued', position: event.position, eta: event.eta };
    case 'started':
      return { status: 'running' };
    case 'progress':
      return {
        ...live,
        status: 'running',
        step: event.step,
        totalSteps: event.total_steps,
        preview: event.preview ?? live.preview,
      };
    case 'failed':
      return {
        status: 'failed',
        error: typeof event.error === 'string' ? event.error : (event.error?.message ?? 'failed'),
      };
    case 'completed':
    case 'cancelled':
    case 'expired':
      return { ...live, status: event.type };
  }
}

/** One job in flight: queue position and ETA, progress with step previews, cancel, then its images. */
export function JobCard({ api, jobId, prompt, actions, onClose }: Props) {
  const [live, setLive] = useState<Live>({ status: 'queued' });
  const [job, setJob] = useState<JobView | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => {
    const stop = new AbortController();
    followJobEvents(api, jobId, (e) => setLive((l) => next(l, e)), stop.signal)
      .then(() => api.json<JobView>(`/v1/jobs/${jobId}`))
      .then(setJob)
      .catch((e: unknown) => !stop.signal.aborted && setError(e));
    return () => stop.abort();
  }, [api, jobId]);

  const cancel = (): void => {
    api.send('DELETE', `/v1/jobs/${jobId}`).catch(setError);
  };
  const inFlight = live.status === 'queued' || live.status === 'running';
  const percent =
    live.step !== undefined && live.totalSteps
      ? Math.round((100 * live.step) / live.totalSteps)
      : 0;
  return (
    <article class={`card ${live.status}`} data-job-id={jobId} aria-label={`job ${prompt}`}>
      <header>
        <strong class="prompt">{prompt}</strong>
        <span class="status" data-status={live.status}>
          {live.status}
        </span>
      </header>
      {live.status === 'queued' && live.position !== undefined && (
        <p class="queue-position">
          {live.position === 0 ? 'next in line' : `${live.position} ahead in the queue`} · done in
          about {Math.ceil(live.eta ?? 0)} s
        </p>
      )}
      {live.status === 'running' && (
        <div class="progress">
          <progress max={100} value={percent} aria-label="progress" />
          <span>
            step {live.step ?? 0} / {live.totalSteps ?? '…'}
          </span>
        </div>
      )}
      {inFlight && live.preview !== undefined && (
        <img class="preview" src={live.preview} alt="step preview" />
      )}
      {live.error !== undefined && <p class="problem">{live.error}</p>}
      <ProblemBanner error={error} />
      {job?.status === 'completed' && <ResultImages api={api} job={job} actions={actions} />}
      <footer>
        {inFlight ? (
          <button type="button" onClick={cancel}>
            Cancel
          </button>
        ) : (
          <button type="button" onClick={onClose}>
            Dismiss
          </button>
        )}
      </footer>
    </article>
  );
}
