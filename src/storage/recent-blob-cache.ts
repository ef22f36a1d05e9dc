import type { BlobStore } from './blob-store.ts';

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
 */
export class RecentBlobCache implements BlobStore {
  readonly #inner: BlobStore;
  readonly #options: RecentBlobCacheOptions;
  // Insertion-ordered: the first entry is the oldest.
  readonly #entries = new Map<string, { data: Buffer; storedAt: number }>();
  #bytes = 0;

  constructor(inner: BlobStore, options: RecentBlobCacheOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    await this.#inner.put(key, data);
    this.#evict(key);
    if (data.byteLength > this.#options.maxBytes) return;
    const copy = Buffer.from(data);
    this.#entries.set(key, { data: copy, storedAt: Date.now() });
    this.#bytes += copy.byteLength;
    this.#trim();
  }

  async get(key: string): Promise<Buffer | undefined> {
    const entry = this.#entries.get(key);
    if (entry && Date.now() - entry.storedAt <= this.#options.maxAgeMs) return entry.data;
    if (entry) this.#evict(key);
    return this.#inner.get(key);
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
