/** An image uploaded for img2img / inpainting; bytes live in the blob store under `key`. */
export interface Upload {
  readonly id: string;
  readonly owner: string;
  readonly key: string;
  readonly mimeType: string;
  readonly size: number;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** Persistence of upload metadata. Implemented by `src/store/` for SQLite and PostgreSQL. */
export interface UploadRepository {
  insert(upload: Upload): Promise<void>;
  /**
   * Inserts `upload` only if its owner's uploads unexpired at its `createdAt`, with it, stay
   * within `quotaBytes`: one atomic step against every other such insert of the same owner, on
   * every API node, so racing uploads cannot overshoot the quota. `heldBytes`: what the owner
   * held before.
   */
  insertWithinQuota(
    upload: Upload,
    quotaBytes: number,
  ): Promise<{ readonly inserted: boolean; readonly heldBytes: number }>;
  get(id: string): Promise<Upload | undefined>;
  delete(id: string): Promise<void>;
  /** Total `size` of `owner`'s uploads not yet expired at `now` (0 when none). */
  storedBytes(owner: string, now: number): Promise<number>;
  /** Uploads whose `expiresAt` is before `now`. */
  listExpired(now: number, limit: number): Promise<Upload[]>;
}
