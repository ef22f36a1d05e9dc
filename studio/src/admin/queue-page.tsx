import { useEffect } from 'preact/hooks';
import type { ApiClient } from '../api-client.ts';
import type { QueueView, ReadinessView } from '../api-types.ts';
import { ProblemBanner } from '../problem-banner.tsx';
import { useAsync } from '../use-async.ts';

/** Admin: queue depth, running jobs and readiness of the workers and stores, every 2 s. */
export function QueuePage({ api }: { readonly api: ApiClient }) {
  const queue = useAsync(() => api.json<QueueView>('/v1/queue'), [api]);
  // Not ready is a 503 that still carries the checks: read the body either way.
  const ready = useAsync(
    () => fetch('/v1/health/ready').then((r) => r.json() as Promise<ReadinessView>),
    [],
  );
  useEffect(() => {
    const timer = setInterval(() => {
      queue.reload();
      ready.reload();
    }, 2000);
    return () => clearInterval(timer);
  }, [queue.reload, ready.reload]);
  return (
    <section class="queue">
      <ProblemBanner error={queue.error ?? ready.error} />
      {queue.value && (
        <p class="stats">
          <span>
            <strong>{queue.value.depth}</strong> queued
          </span>
          <span>
            <strong>{queue.value.running}</strong> running
          </span>
          <span>limit {queue.value.max_queued}</span>
        </p>
      )}
      {ready.value && (
        <table>
          <tbody>
            {Object.entries(ready.value.checks).map(([name, check]) => (
              <tr key={name}>
                <td>{name}</td>
                <td class={check.status}>{check.status}</td>
                <td>{check.reason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
