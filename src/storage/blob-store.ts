/** How one blob is kept. */
export interface BlobPutOptions {
  /**
   * Epoch milliseconds after which the blob is gone: `get` answers `undefined` from then on and
   * `deleteExpired` removes it. Absent: kept until deleted. A time already past stores nothing
   * (and removes what was there). It is a backstop against orphans (a blob whose job row never
   * got written); the rows' own TTLs still decide when results and uploads go.
   */
  readonly expiresAt?: number;
}

/**
 * Where result images and uploads are kept. Keys are slash-separated segments of letters,
 * digits, `.`, `_` and `-`, each starting with a letter or digit, chosen by the caller; anything
 * else is refused with an error, so no key escapes a store's root or prefix or meets an
 * adapter's own dot-named entries. Adapters: `local-disk/`
 * (embedded mode), `postgres/` and `s3/` (shared by every node of a cluster). One conformance
 * suite (`test/storage/blob-store.test.ts`) runs over all of them.
 */
export interface BlobStore {
  /**
   * Stores `data` under `key`, replacing any previous value and its expiry. Durable when the
   * promise resolves; a concurrent reader sees the old bytes or the new ones, never a mix.
   */
  put(key: string, data: Uint8Array, options?: BlobPutOptions): Promise<void>;
  /** The bytes under `key`, or `undefined` when absent or expired. */
  get(key: string): Promise<Buffer | undefined>;
  /** Removes `key`; absent keys are not an error. */
  delete(key: string): Promise<void>;
  /**
   * Removes up to `limit` blobs whose expiry is at or before `now` and returns how many this
   * call removed. Safe to call from several nodes at once on a shared store: it never fails
   * because another caller removed a blob first and never removes an unexpired blob.
   */
  deleteExpired(now: number, limit: number): Promise<number>;
  /** Finishes background work (files made ahead, connections); the store is not used after. */
  close(): Promise<void>;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Throws unless `key` is a valid blob key (see {@link BlobStore}); every adapter calls it. */
export function checkBlobKey(key: string): void {
  if (key.length > 512 || !key.split('/').every((segment) => SEGMENT.test(segment)))
    throw new Error(`invalid blob key ${JSON.stringify(key)}`);
}
