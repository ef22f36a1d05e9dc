import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Updateable } from 'kysely';
import type { ApiKey, Scope } from '../accounts/api-key.ts';
import type { KeyPatch, KeyRepository, ListKeysOptions } from '../accounts/key-repository.ts';
import type { ApiKeysTable, Database } from './database-schema.ts';
import { writeTransaction } from './write-transaction.ts';

export function toApiKey(row: Selectable<ApiKeysTable>): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes === '' ? [] : (row.scopes.split(',') as Scope[]),
    credits: Number(row.credits),
    rateLimit: Number(row.rate_limit),
    maxJobs: Number(row.max_jobs),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    active: Number(row.active) === 1,
    priority: Number(row.priority),
    userId: row.user_id,
    createdAt: Number(row.created_at),
  };
}

function toRow(patch: KeyPatch): Updateable<ApiKeysTable> {
  const row: Updateable<ApiKeysTable> = {};
  if (patch.name !== undefined) row.name = patch.name;
  if (patch.scopes !== undefined) row.scopes = patch.scopes.join(',');
  if (patch.rateLimit !== undefined) row.rate_limit = patch.rateLimit;
  if (patch.maxJobs !== undefined) row.max_jobs = patch.maxJobs;
  if (patch.expiresAt !== undefined) row.expires_at = patch.expiresAt;
  if (patch.active !== undefined) row.active = patch.active ? 1 : 0;
  if (patch.priority !== undefined) row.priority = patch.priority;
  return row;
}

/** {@link KeyRepository} on Kysely (SQLite and PostgreSQL). */
export class KyselyKeyRepository implements KeyRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async create(key: ApiKey, hash: string, grantReason: string): Promise<void> {
    await writeTransaction(this.#db, async (trx) => {
      await trx
        .insertInto('api_keys')
        .values({
          id: key.id,
          name: key.name,
          prefix: key.prefix,
          hash,
          scopes: key.scopes.join(','),
          credits: key.credits,
          rate_limit: key.rateLimit,
          max_jobs: key.maxJobs,
          expires_at: key.expiresAt,
          active: key.active ? 1 : 0,
          priority: key.priority,
          user_id: key.userId,
          created_at: key.createdAt,
        })
        .execute();
      if (key.credits > 0) {
        await trx
          .insertInto('credit_ledger')
          .values({
            id: randomUUID(),
            key_id: key.id,
            kind: 'grant',
            amount: key.credits,
            balance_after: key.credits,
            reason: grantReason,
            job_id: null,
            created_at: key.createdAt,
          })
          .execute();
      }
    });
  }

  async get(id: string): Promise<ApiKey | undefined> {
    const row = await this.#db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toApiKey(row);
  }

  async getByHash(hash: string): Promise<ApiKey | undefined> {
    const row = await this.#db
      .selectFrom('api_keys')
      .selectAll()
      .where('hash', '=', hash)
      .executeTakeFirst();
    return row && toApiKey(row);
  }

  async list(options: ListKeysOptions): Promise<ApiKey[]> {
    let query = this.#db.selectFrom('api_keys').selectAll();
    if (options.userId !== undefined) query = query.where('user_id', '=', options.userId);
    const rows = await query
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .limit(options.limit)
      .offset(options.offset ?? 0)
      .execute();
    return rows.map(toApiKey);
  }

  async update(id: string, patch: KeyPatch): Promise<ApiKey | undefined> {
    const row = toRow(patch);
    if (Object.keys(row).length > 0)
      await this.#db.updateTable('api_keys').set(row).where('id', '=', id).execute();
    return this.get(id);
  }

  async count(options: { userId?: string; activeOnly?: boolean } = {}): Promise<number> {
    let query = this.#db.selectFrom('api_keys').select((eb) => eb.fn.countAll().as('count'));
    if (options.userId !== undefined) query = query.where('user_id', '=', options.userId);
    if (options.activeOnly) query = query.where('active', '=', 1);
    const row = await query.executeTakeFirstOrThrow();
    return Number(row.count);
  }
}
