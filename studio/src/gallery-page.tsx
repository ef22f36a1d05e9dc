import { useState } from 'preact/hooks';
import type { ApiClient } from './api-client.ts';
import type { JobView, JobsPage } from './api-types.ts';
import { ExpiryCountdown } from './expiry-countdown.tsx';
import { ProblemBanner } from './problem-banner.tsx';
import type { ResultActions } from './result-actions.ts';
import { ResultImages } from './result-images.tsx';
import { useAsync } from './use-async.ts';

const PAGE_SIZE = 12;

interface Props {
  readonly api: ApiClient;
  readonly actions: ResultActions;
  /** Changes when the gallery should load again (a job was submitted, the tab was opened). */
  readonly refresh: number;
}

/** The caller's jobs, newest first, a page at a time (`GET /v1/jobs`). */
export function GalleryPage({ api, actions, refresh }: Props) {
  const [cursors, setCursors] = useState<readonly string[]>([]);
  const cursor = cursors.at(-1);
  const page = useAsync(
    () =>
      api.json<JobsPage>(
        `/v1/jobs?limit=${PAGE_SIZE}${cursor === undefined ? '' : `&cursor=${cursor}`}`,
      ),
    [api, cursor, refresh],
  );
  const [error, setError] = useState<unknown>(undefined);
  // The public API deletes a result as it hands it out (`?delete=true`): every image goes.
  const remove = (job: JobView): void => {
    api.fetch(`/v1/jobs/${job.job_id}/image?index=0&delete=true`).then(page.reload, setError);
  };
  return (
    <section class="gallery">
      <ProblemBanner error={page.error ?? error} />
      {page.value?.data.length === 0 && <p>No jobs yet.</p>}
      <div class="gallery-grid">
        {page.value?.data.map((job) => (
          <article class="gallery-item" key={job.job_id} data-job-id={job.job_id}>
            <header>
              <strong class="prompt">{job.parameters.prompt}</strong>
              <span class="status">{job.status}</span>
            </header>
            <p class="meta">
              {job.model} · {job.parameters.width}×{job.parameters.height} ·{' '}
              {new Date(job.created_at).toLocaleString()}
            </p>
            {job.status === 'completed' && job.result && !job.result.deleted && (
              <>
                <ResultImages api={api} job={job} actions={actions} />
                {job.result.expires_at !== null && (
                  <ExpiryCountdown expiresAt={job.result.expires_at} />
                )}
                <button type="button" onClick={() => remove(job)}>
                  Delete
                </button>
              </>
            )}
            {job.result?.deleted === true && <p class="meta">result deleted or expired</p>}
          </article>
        ))}
      </div>
      <div class="row">
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => setCursors((c) => c.slice(0, -1))}
        >
          Newer
        </button>
        <button
          type="button"
          disabled={!page.value?.next_cursor}
          onClick={() => {
            const next = page.value?.next_cursor;
            if (next) setCursors((c) => [...c, next]);
          }}
        >
          Older
        </button>
        <button type="button" onClick={page.reload}>
          Refresh
        </button>
      </div>
    </section>
  );
}
