import { sql, type Kysely } from 'kysely';
import type { UsageAnalytics, UsageQuery, UsageRow } from '../accounts/usage-analytics.ts';
import type { Database } from './database-schema.ts';
import { isSqlite } from './write-transaction.ts';

const SQLITE = {
  day: `strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')`,
  images: `json_extract(params, '$.n')`,
  seconds: `json_extract(result, '$.generationTime')`,
};
const POSTGRES = {
  day: `to_char(to_timestamp(created_at / 1000) at time zone 'UTC', 'YYYY-MM-DD')`,
  images: `(params::json ->> 'n')::integer`,
  seconds: `(result::json ->> 'generationTime')::double precision`,
};

interface Raw {
  owner: string;
  model: string;
  day: string;
  jobs: number | string;
  images: number | string | null;
  credits: number | string | null;
  failures: number | string | null;
  seconds: number | string | null;
}

/** {@link UsageAnalytics} as one GROUP BY over the jobs table. */
export class KyselyUsageAnalytics implements UsageAnalytics {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async usage(q: UsageQuery): Promise<UsageRow[]> {
    const f = isSqlite(this.#db) ? SQLITE : POSTGRES;
    const day = sql.raw(f.day);
    const keyFilter = q.keyId === undefined ? sql`` : sql`and owner = ${q.keyId}`;
    const modelFilter = q.model === undefined ? sql`` : sql`and model = ${q.model}`;
    const { rows } = await sql<Raw>`
      select owner, model, ${day} as day,
        count(*) as jobs,
        sum(case when status = 'completed' then ${sql.raw(f.images)} else 0 end) as images,
        sum(case when status in ('failed', 'cancelled', 'expired') then 0
                 else coalesce(credits_used, 0) end) as credits,
        sum(case when status = 'failed' then 1 else 0 end) as failures,
        avg(case when status = 'completed' then ${sql.raw(f.seconds)} end) as seconds
      from jobs
      where created_at >= ${q.from} and created_at < ${q.to} ${keyFilter} ${modelFilter}
      group by owner, model, ${day}
      order by day, owner, model`.execute(this.#db);
    return rows.map((r) => ({
      keyId: r.owner,
      model: r.model,
      day: r.day,
      jobs: Number(r.jobs),
      images: Number(r.images ?? 0),
      credits: Number(r.credits ?? 0),
      failures: Number(r.failures ?? 0),
      meanGenerationTime: r.seconds === null ? null : Math.round(Number(r.seconds) * 1000) / 1000,
    }));
  }
}
