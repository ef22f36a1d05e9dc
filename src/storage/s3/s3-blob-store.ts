import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { checkBlobKey, type BlobPutOptions, type BlobStore } from '../blob-store.ts';

/** Where an {@link S3BlobStore} keeps its objects, and how to reach them. */
export interface S3BlobStoreOptions {
  readonly bucket: string;
  /** Prepended to every object name (`pictor/` → `pictor/results/…`); empty for none. */
  readonly prefix: string;
  /** Passed to the AWS SDK's client as is: region, endpoint, credentials, path style. */
  readonly client: S3ClientConfig;
}

/** The user metadata (`x-amz-meta-…`) that holds a blob's expiry. */
const EXPIRES_AT = 'pictor-expires-at';
/** Markers sort by time when the time is zero-padded to this many digits. */
const TIME_DIGITS = 15;

/**
 * {@link BlobStore} in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, …) through the
 * AWS SDK. A blob is one object; its expiry is in the object's metadata, so a read can refuse an
 * expired blob without another request.
 *
 * S3 cannot list objects by metadata, so a blob with an expiry also gets an empty marker object,
 * `<prefix>.expiry/<zero-padded expiry>/<key>`, written before the blob (a crash between the two
 * leaves a marker for nothing, never an unmarked blob). Listing the markers returns them oldest
 * first; a sweep stops at the first one still in the future, removes the blob when its metadata
 * still names that expiry (it may have been rewritten since) and then the marker. Two nodes
 * sweeping at once may both remove (and count) one blob: S3 deletes are idempotent, so that costs
 * requests, not correctness. Bucket lifecycle rules can replace the sweep in production.
 */
export class S3BlobStore implements BlobStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  private constructor(client: S3Client, options: S3BlobStoreOptions) {
    this.#client = client;
    this.#bucket = options.bucket;
    this.#prefix = options.prefix;
  }

  /** A store over an existing bucket; fails, naming the bucket, when it cannot be reached. */
  static async open(options: S3BlobStoreOptions): Promise<S3BlobStore> {
    // Only the checksums S3 requires: several S3-compatible servers refuse the SDK's optional ones.
    const client = new S3Client({
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...options.client,
    });
    try {
      await client.send(new HeadBucketCommand({ Bucket: options.bucket }));
    } catch (error) {
      client.destroy();
      throw new Error(`S3 bucket ${options.bucket} cannot be used: ${describe(error)}`, {
        cause: error,
      });
    }
    return new S3BlobStore(client, options);
  }

  async put(key: string, data: Uint8Array, options: BlobPutOptions = {}): Promise<void> {
    checkBlobKey(key);
    // Whole milliseconds: the marker's name and the metadata must name the same instant.
    const expiresAt = options.expiresAt === undefined ? undefined : Math.ceil(options.expiresAt);
    if (expiresAt !== undefined && expiresAt <= Date.now()) return this.delete(key);
    if (expiresAt !== undefined) {
      await this.#client.send(
        new PutObjectCommand({
          ...this.#at(this.#marker(expiresAt, key)),
          Body: new Uint8Array(0),
          ContentLength: 0,
        }),
      );
    }
    await this.#client.send(
      new PutObjectCommand({
        ...this.#at(this.#prefix + key),
        Body: data,
        ContentLength: data.byteLength,
        Metadata: expiresAt === undefined ? {} : { [EXPIRES_AT]: String(expiresAt) },
      }),
    );
  }

  async get(key: string): Promise<Buffer | undefined> {
    checkBlobKey(key);
    try {
      const object = await this.#client.send(new GetObjectCommand(this.#at(this.#prefix + key)));
      const expiresAt = expiryOf(object.Metadata);
      if (expiresAt !== undefined && expiresAt <= Date.now()) {
        await object.Body?.transformToByteArray(); // drain, so the connection is reused
        return undefined;
      }
      return Buffer.from((await object.Body?.transformToByteArray()) ?? []);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    checkBlobKey(key);
    // The marker, if any, goes when the sweep reaches it and finds no blob.
    await this.#client.send(new DeleteObjectCommand(this.#at(this.#prefix + key)));
  }

  async deleteExpired(now: number, limit: number): Promise<number> {
    let removed = 0;
    // Pages follow `StartAfter` (the last marker seen) rather than continuation tokens: the same
    // for S3, and kinder to servers whose tokens are broken. Full pages, and the limit is counted
    // here: s3rver fails any truncated listing (its tokens need DES, gone from OpenSSL 3).
    let after: string | undefined;
    for (;;) {
      const page = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: `${this.#prefix}.expiry/`,
          StartAfter: after,
        }),
      );
      const markers = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]));
      for (const marker of markers) {
        const due = this.#parseMarker(marker);
        if (due === undefined) continue;
        if (due.expiresAt > now || removed >= limit) return removed;
        if (await this.#removeIfStillDue(due.key, due.expiresAt)) removed++;
        await this.#client.send(new DeleteObjectCommand(this.#at(marker)));
      }
      if (page.IsTruncated !== true || markers.length === 0) return removed;
      after = markers.at(-1);
    }
  }

  close(): Promise<void> {
    this.#client.destroy();
    return Promise.resolve();
  }

  async #removeIfStillDue(key: string, expiresAt: number): Promise<boolean> {
    try {
      const head = await this.#client.send(new HeadObjectCommand(this.#at(this.#prefix + key)));
      if (expiryOf(head.Metadata) !== expiresAt) return false; // rewritten since
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
    await this.#client.send(new DeleteObjectCommand(this.#at(this.#prefix + key)));
    return true;
  }

  #marker(expiresAt: number, key: string): string {
    return `${this.#prefix}.expiry/${String(expiresAt).padStart(TIME_DIGITS, '0')}/${key}`;
  }

  #parseMarker(name: string): { expiresAt: number; key: string } | undefined {
    const match = /^\.expiry\/(\d+)\/(.+)$/.exec(name.slice(this.#prefix.length));
    return match ? { expiresAt: Number(match[1]), key: match[2] as string } : undefined;
  }

  #at(name: string): { Bucket: string; Key: string } {
    return { Bucket: this.#bucket, Key: name };
  }
}

function expiryOf(metadata: Record<string, string> | undefined): number | undefined {
  const value = metadata?.[EXPIRES_AT];
  return value === undefined ? undefined : Number(value);
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return `${e.name ?? 'Error'}${status === undefined ? '' : ` (HTTP ${status})`}: ${e.message ?? String(error)}`;
}
