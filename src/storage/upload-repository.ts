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
  get(id: string): Promise<Upload | undefined>;
  delete(id: string): Promise<void>;
  /** Total `size` of `owner`'s uploads not yet expired at `now` (0 when none). */
  storedBytes(owner: string, now: number): Promise<number>;
  /** Uploads whose `expiresAt` is before `now`. */
  listExpired(now: number, limit: number): Promise<Upload[]>;
}
