import type { ApiClient } from '../api-client.ts';
import type { UsageRow } from '../api-types.ts';
import { ProblemBanner } from '../problem-banner.tsx';
import { useAsync } from '../use-async.ts';
import { BarChart } from './bar-chart.tsx';

/** Sums `value` of the rows per `key`, in key order. */
function sumBy(
  rows: readonly UsageRow[],
  key: (r: UsageRow) => string,
  value: (r: UsageRow) => number,
): { label: string; value: number }[] {
  const sums = new Map<string, number>();
  for (const r of rows) sums.set(key(r), (sums.get(key(r)) ?? 0) + value(r));
  return [...sums]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, v]) => ({ label, value: v }));
}

/** Mean generation time per day, weighted by each row's jobs. */
function meanTimePerDay(rows: readonly UsageRow[]): { label: string; value: number }[] {
  const timed = rows.filter((r) => r.mean_generation_time !== null);
  const total = sumBy(
    timed,
    (r) => r.day,
    (r) => (r.mean_generation_time ?? 0) * r.jobs,
  );
  const jobs = sumBy(
    timed,
    (r) => r.day,
    (r) => r.jobs,
  );
  return total.map((t, i) => ({
    label: t.label,
    value: t.value / Math.max(1, jobs[i]?.value ?? 1),
  }));
}

/** Admin: usage over the last 30 days (`GET /v1/admin/analytics`) as charts. */
export function UsagePage({ api }: { readonly api: ApiClient }) {
  const usage = useAsync(() => api.json<{ data: UsageRow[] }>('/v1/admin/analytics'), [api]);
  const rows = usage.value?.data ?? [];
  return (
    <section>
      <ProblemBanner error={usage.error} />
      <div class="charts">
        <BarChart
          title="Images per day"
          bars={sumBy(
            rows,
            (r) => r.day,
            (r) => r.images,
          )}
        />
        <BarChart
          title="Images per model"
          bars={sumBy(
            rows,
            (r) => r.model,
            (r) => r.images,
          )}
        />
        <BarChart
          title="Failures per day"
          bars={sumBy(
            rows,
            (r) => r.day,
            (r) => r.failures,
          )}
        />
        <BarChart title="Mean generation time per day (s)" bars={meanTimePerDay(rows)} unit=" s" />
      </div>
      <button type="button" onClick={usage.reload}>
        Refresh
      </button>
    </section>
  );
}
