import type { Kysely } from 'kysely';
import { checkBlobKey, type BlobPutOptions, type BlobStore } from '../blob-store.ts';
import { migrateBlobTables, type BlobTables } from './blob-tables.ts';

/**
 * Bytes per row of `pictor_blob_parts`. A blob is split into parts of at most this size rather
 * than kept in one `bytea` value: each row (and each query parameter and result row in the
 * driver) stays small however large an upload is, and no value nears PostgreSQL's 1 GB field
 * limit. Large objects were the other choice; they were left out because every read needs a
 * transaction, they are not removed with their rows (an orphan needs `lo_unlink` or `vacuumlo`),
 * and they need their own grants — for images of a few megabytes at most, plain rows suffice.
 */
export const BLOB_PART_BYTES = 1024 * 1024;

/**
 * {@link BlobStore} in PostgreSQL: the simple shared store for small clusters, in the database
 * every node already reaches. A blob is a row of `pictor_blobs` (size, expiry) and its parts
 * in `pictor_blob_parts`. A put replaces a blob in one transaction; a read is one statement, so
 * it sees one version whole. Expired blobs are deleted with `FOR UPDATE SKIP LOCKED`, so
 * several nodes sweeping at once share the work and each blob is removed (and counted) once.
 */
export class PostgresBlobStore implements BlobStore {
  readonly #db: Kysely<BlobTables>;

  private constructor(db: Kysely<BlobTables>) {
    this.#db = db;
  }

  /**
   * A store over `db` (the caller's connection pool; the store does not close it), after
   * creating or updating its tables.
   */
  static async open<DB>(db: Kysely<DB>): Promise<PostgresBlobStore> {
    await migrateBlobTables(db as Kysely<unknown>);
    return new PostgresBlobStore(db.withTables<BlobTables>() as unknown as Kysely<BlobTables>);
  }

  async put(key: string, data: Uint8Array, options: BlobPutOptions = {}): Promise<void> {
    checkBlobKey(key);
    const expiresAt = options.expiresAt ?? null;
    if (expiresAt !== null && expiresAt <= Date.now()) return this.delete(key);
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    await this.#db.transaction().execute(async (trx) => {
      // The upsert locks the blob's row first: concurrent puts of one key take turns, and a
      // sweep skips a blob that is being rewritten.
      await trx
        .insertInto('pictor_blobs')
        .values({ key, size: bytes.byteLength, expires_at: expiresAt })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet({ size: bytes.byteLength, expires_at: expiresAt }),
        )
        .execute();
      await trx.deleteFrom('pictor_blob_parts').where('key', '=', key).execute();
      const parts = [];
      for (let offset = 0; offset < bytes.byteLength; offset += BLOB_PART_BYTES) {
        const data = bytes.subarray(offset, offset + BLOB_PART_BYTES);
        parts.push({ key, part: parts.length, data });
      }
      if (parts.length > 0) await trx.insertInto('pictor_blob_parts').values(parts).execute();
    });
  }

  async get(key: string): Promise<Buffer | undefined> {
    checkBlobKey(key);
    // A LEFT JOIN so that an empty blob (no parts) is one row, told apart from an absent one.
    const rows = await this.#db
      .selectFrom('pictor_blobs as b')
      .leftJoin('pictor_blob_parts as p', 'p.key', 'b.key')
      .select(['p.data', 'b.expires_at'])
      .where('b.key', '=', key)
      .orderBy('p.part')
      .execute();
    const head = rows[0];
    if (head === undefined) return undefined;
    if (head.expires_at !== null && head.expires_at <= Date.now()) return undefined;
    return Buffer.concat(rows.flatMap((row) => (row.data === null ? [] : [row.data])));
  }

  async delete(key: string): Promise<void> {
    checkBlobKey(key);
    await this.#db.deleteFrom('pictor_blobs').where('key', '=', key).execute();
  }

  async deleteExpired(now: number, limit: number): Promise<number> {
    const removed = await this.#db
      .deleteFrom('pictor_blobs')
      .where('key', 'in', (eb) =>
        eb
          .selectFrom('pictor_blobs')
          .select('key')
          .where('expires_at', '<=', now)
          .orderBy('expires_at')
          .limit(limit)
          .forUpdate()
          .skipLocked(),
      )
      .returning('key')
      .execute();
    return removed.length;
  }

  close(): Promise<void> {
    return Promise.resolve(); // the connection pool is the caller's to end
  }
}
