import { sql, type Kysely, type Selectable } from 'kysely';
import type { Upload, UploadRepository } from '../storage/upload-repository.ts';
import type { Database, UploadsTable } from './database-schema.ts';
import { isSqlite, writeTransaction } from './write-transaction.ts';

function toUpload(row: Selectable<UploadsTable>): Upload {
  return {
    id: row.id,
    owner: row.owner,
    key: row.key,
    mimeType: row.mime_type,
    size: Number(row.size),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

/** {@link UploadRepository} on Kysely (SQLite and PostgreSQL). */
export class KyselyUploadRepository implements UploadRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(upload: Upload): Promise<void> {
    await this.#db
      .insertInto('uploads')
      .values({
        id: upload.id,
        owner: upload.owner,
        key: upload.key,
        mime_type: upload.mimeType,
        size: upload.size,
        created_at: upload.createdAt,
        expires_at: upload.expiresAt,
      })
      .execute();
  }

  insertWithinQuota(
    upload: Upload,
    quotaBytes: number,
  ): Promise<{ readonly inserted: boolean; readonly heldBytes: number }> {
    return writeTransaction(this.#db, async (trx) => {
      // SQLite's write transaction is already exclusive; PostgreSQL's READ COMMITTED would let
      // two of them sum the same rows, so each owner's inserts queue on a lock of their own.
      if (!isSqlite(trx)) {
        await sql`SELECT pg_advisory_xact_lock(hashtext(${`pictor-uploads:${upload.owner}`}))`.execute(
          trx,
        );
      }
      const uploads = new KyselyUploadRepository(trx);
      const heldBytes = await uploads.storedBytes(upload.owner, upload.createdAt);
      if (heldBytes + upload.size > quotaBytes) return { inserted: false, heldBytes };
      await uploads.insert(upload);
      return { inserted: true, heldBytes };
    });
  }

  async get(id: string): Promise<Upload | undefined> {
    const row = await this.#db
      .selectFrom('uploads')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toUpload(row);
  }

  async delete(id: string): Promise<void> {
    await this.#db.deleteFrom('uploads').where('id', '=', id).execute();
  }

  async storedBytes(owner: string, now: number): Promise<number> {
    const row = await this.#db
      .selectFrom('uploads')
      .select((eb) => eb.fn.sum<number | string | null>('size').as('total'))
      .where('owner', '=', owner)
      .where('expires_at', '>=', now)
      .executeTakeFirst();
    return Number(row?.total ?? 0);
  }

  async listExpired(now: number, limit: number): Promise<Upload[]> {
    const rows = await this.#db
      .selectFrom('uploads')
      .selectAll()
      .where('expires_at', '<', now)
      .orderBy('expires_at', 'asc')
      .limit(limit)
      .execute();
    return rows.map(toUpload);
  }
}
