import type { BlobPutOptions, BlobStore } from './blob-store.ts';

/**
 * A {@link BlobStore} decorator that gives every blob written without an expiry a late one, as a
 * backstop: a blob whose job or upload row was never written (a node died between the two) is
 * then still removed by the expiry sweep. `graceMs` must outlast the rows' own TTLs, which
 * remove blobs first in every normal case. Used over the stores a cluster shares, whose nodes
 * can die at any point; an explicit expiry passes through unchanged.
 */
export class OrphanExpiry implements BlobStore {
  readonly #inner: BlobStore;
  readonly #graceMs: number;

  constructor(inner: BlobStore, graceMs: number) {
    this.#inner = inner;
    this.#graceMs = graceMs;
  }

  put(key: string, data: Uint8Array, options: BlobPutOptions = {}): Promise<void> {
    const expiresAt = options.expiresAt ?? Date.now() + this.#graceMs;
    return this.#inner.put(key, data, { ...options, expiresAt });
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.#inner.get(key);
  }

  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }

  deleteExpired(now: number, limit: number): Promise<number> {
    return this.#inner.deleteExpired(now, limit);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
