import type { Kysely, Selectable, Updateable } from 'kysely';
import type { Job, JobPatch, JobStatus } from '../jobs/job.ts';
import type { JobRepository, ListJobsOptions } from '../jobs/job-repository.ts';
import type { Database, JobsTable } from './database-schema.ts';

function toJob(row: Selectable<JobsTable>): Job {
  return {
    id: row.id,
    owner: row.owner,
    status: row.status as JobStatus,
    priority: Number(row.priority),
    model: row.model,
    params: JSON.parse(row.params) as Job['params'],
    batchKey: row.batch_key,
    createdAt: Number(row.created_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    attempts: Number(row.attempts),
    error:
      row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
    result: row.result === null ? null : (JSON.parse(row.result) as Job['result']),
    webhookUrl: row.webhook_url,
    creditsUsed: row.credits_used === null ? null : Number(row.credits_used),
    resultExpiresAt: row.result_expires_at === null ? null : Number(row.result_expires_at),
    resultDeleted: Number(row.result_deleted) === 1,
  };
}

function toRow(patch: JobPatch): Updateable<JobsTable> {
  const row: Updateable<JobsTable> = {};
  if (patch.model !== undefined) row.model = patch.model;
  if (patch.params !== undefined) row.params = JSON.stringify(patch.params);
  if (patch.batchKey !== undefined) row.batch_key = patch.batchKey;
  if (patch.status !== undefined) row.status = patch.status;
  if (patch.startedAt !== undefined) row.started_at = patch.startedAt;
  if (patch.finishedAt !== undefined) row.finished_at = patch.finishedAt;
  if (patch.attempts !== undefined) row.attempts = patch.attempts;
  if (patch.error !== undefined) {
    row.error_code = patch.error?.code ?? null;
    row.error_message = patch.error?.message ?? null;
  }
  if (patch.result !== undefined)
    row.result = patch.result === null ? null : JSON.stringify(patch.result);
  if (patch.creditsUsed !== undefined) row.credits_used = patch.creditsUsed;
  if (patch.resultExpiresAt !== undefined) row.result_expires_at = patch.resultExpiresAt;
  if (patch.resultDeleted !== undefined) row.result_deleted = patch.resultDeleted ? 1 : 0;
  return row;
}

/** {@link JobRepository} on Kysely; the same SQL runs on SQLite and PostgreSQL. */
export class KyselyJobRepository implements JobRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(job: Job): Promise<void> {
    await this.#db
      .insertInto('jobs')
      .values({
        id: job.id,
        owner: job.owner,
        status: job.status,
        priority: job.priority,
        model: job.model,
        params: JSON.stringify(job.params),
        batch_key: job.batchKey,
        created_at: job.createdAt,
        started_at: job.startedAt,
        finished_at: job.finishedAt,
        attempts: job.attempts,
        error_code: job.error?.code ?? null,
        error_message: job.error?.message ?? null,
        result: job.result === null ? null : JSON.stringify(job.result),
        webhook_url: job.webhookUrl,
        credits_used: job.creditsUsed,
        result_expires_at: job.resultExpiresAt,
        result_deleted: job.resultDeleted ? 1 : 0,
      })
      .execute();
  }

  async get(id: string): Promise<Job | undefined> {
    const row = await this.#db
      .selectFrom('jobs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toJob(row);
  }

  async transition(
    id: string,
    from: readonly JobStatus[],
    patch: JobPatch,
    attempt?: number,
  ): Promise<boolean> {
    let update = this.#db
      .updateTable('jobs')
      .set(toRow(patch))
      .where('id', '=', id)
      .where('status', 'in', from);
    if (attempt !== undefined) update = update.where('attempts', '=', attempt);
    const result = await update.executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async claim(id: string, startedAt: number): Promise<Job | undefined> {
    const row = await this.#db
      .updateTable('jobs')
      .set((eb) => ({
        status: 'running',
        started_at: startedAt,
        attempts: eb('attempts', '+', 1),
      }))
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .returningAll()
      .executeTakeFirst();
    return row && toJob(row);
  }

  async update(id: string, patch: JobPatch): Promise<void> {
    await this.#db.updateTable('jobs').set(toRow(patch)).where('id', '=', id).execute();
  }

  async listByOwner(owner: string, options: ListJobsOptions): Promise<Job[]> {
    let query = this.#db.selectFrom('jobs').selectAll().where('owner', '=', owner);
    const before = options.before;
    if (before) {
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '<', before.createdAt),
          eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit)
      .execute();
    return rows.map(toJob);
  }

  async listByStatus(statuses: readonly JobStatus[]): Promise<Job[]> {
    if (statuses.length === 0) return [];
    const rows = await this.#db
      .selectFrom('jobs')
      .selectAll()
      .where('status', 'in', statuses)
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute();
    return rows.map(toJob);
  }

  async listExpiredResults(now: number, limit: number): Promise<Job[]> {
    const rows = await this.#db
      .selectFrom('jobs')
      .selectAll()
      .where('result_expires_at', '<', now)
      .where('result_deleted', '=', 0)
      .orderBy('result_expires_at', 'asc')
      .limit(limit)
      .execute();
    return rows.map(toJob);
  }

  async countByStatus(): Promise<Partial<Record<JobStatus, number>>> {
    const rows = await this.#db
      .selectFrom('jobs')
      .select(['status', (eb) => eb.fn.countAll().as('count')])
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.count)]));
  }
}
