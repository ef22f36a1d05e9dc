import type { BlobPutOptions, BlobStore } from './blob-store.ts';

interface CacheEntry {
  readonly data: Buffer;
  readonly storedAt: number;
  readonly expiresAt: number;
}

export interface RecentBlobCacheOptions {
  /** Most bytes kept in memory; the oldest entries go first. */
  readonly maxBytes: number;
  /** How long a written blob is served from memory. */
  readonly maxAgeMs: number;
}

/**
 * A {@link BlobStore} decorator that keeps recently written blobs in memory. A result is almost
 * always read right after it is written — the waiting `/v1/generate` request, the dialects —
 * so serving that read from memory saves the disk round trips on the hot path. Writes and
 * deletes still go to the inner store first; a delete evicts, so nothing deleted is ever served.
 * That holds only while this process is the store's one writer: the embedded mode's local disk.
 * Over a store shared by a cluster another node's delete would not evict here, and the node that
 * reads a result is seldom the one that wrote it, so shared stores go without it.
 */
export class RecentBlobCache implements BlobStore {
  readonly #inner: BlobStore;
  readonly #options: RecentBlobCacheOptions;
  // Insertion-ordered: the first entry is the oldest.
  readonly #entries = new Map<string, CacheEntry>();
  #bytes = 0;

  constructor(inner: BlobStore, options: RecentBlobCacheOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  async put(key: string, data: Uint8Array, options: BlobPutOptions = {}): Promise<void> {
    await this.#inner.put(key, data, options);
    this.#evict(key);
    const now = Date.now();
    const expiresAt = options.expiresAt ?? Infinity;
    if (data.byteLength > this.#options.maxBytes || expiresAt <= now) return;
    const copy = Buffer.from(data);
    this.#entries.set(key, { data: copy, storedAt: now, expiresAt });
    this.#bytes += copy.byteLength;
    this.#trim();
  }

  async get(key: string): Promise<Buffer | undefined> {
    const entry = this.#entries.get(key);
    if (entry && this.#fresh(entry, Date.now())) return entry.data;
    if (entry) this.#evict(key);
    return this.#inner.get(key);
  }

  async deleteExpired(now: number, limit: number): Promise<number> {
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#evict(key);
    return this.#inner.deleteExpired(now, limit);
  }

  async delete(key: string): Promise<void> {
    this.#evict(key);
    await this.#inner.delete(key);
  }

  async close(): Promise<void> {
    this.#entries.clear();
    this.#bytes = 0;
    await this.#inner.close();
  }

  /** Bytes held in memory (for tests and metrics). */
  get cachedBytes(): number {
    return this.#bytes;
  }

  #fresh(entry: CacheEntry, now: number): boolean {
    return now - entry.storedAt <= this.#options.maxAgeMs && now < entry.expiresAt;
  }

  #evict(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#bytes -= entry.data.byteLength;
  }

  #trim(): void {
    const now = Date.now();
    for (const [key, entry] of this.#entries) {
      if (this.#bytes <= this.#options.maxBytes && now - entry.storedAt <= this.#options.maxAgeMs) {
        break;
      }
      this.#evict(key);
    }
  }
}
