import path from 'node:path';
import type { Kysely } from 'kysely';
import type { PictorConfig } from '../config/index.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { OrphanExpiry } from '../storage/orphan-expiry.ts';
import { LocalDiskBlobStore } from '../storage/local-disk/local-disk-blob-store.ts';
import { PostgresBlobStore } from '../storage/postgres/postgres-blob-store.ts';
import { RecentBlobCache } from '../storage/recent-blob-cache.ts';
import { S3BlobStore } from '../storage/s3/s3-blob-store.ts';

/**
 * The blob store `storage.blobs` names; `db` is the server's database (for `postgres`). Shared
 * stores give blobs without an expiry one a day past the results' TTL (see OrphanExpiry).
 */
export async function createBlobStore<DB>(
  config: PictorConfig,
  db: Kysely<DB>,
): Promise<BlobStore> {
  const store = await openBlobStore(config, db);
  if (config.storage.blobs === 'local') return store;
  return new OrphanExpiry(store, (config.results.ttlSeconds + ORPHAN_GRACE_SECONDS) * 1000);
}

/** Past the results' TTL (which also bounds uploads), a blob still there has no row left. */
const ORPHAN_GRACE_SECONDS = 86_400;

async function openBlobStore<DB>(config: PictorConfig, db: Kysely<DB>): Promise<BlobStore> {
  switch (config.storage.blobs) {
    case 'local':
      // Results are read right after they are written (the waiting request): keep them in
      // memory for a minute, within 64 MB. Only here: see RecentBlobCache on shared stores.
      return new RecentBlobCache(new LocalDiskBlobStore(path.join(config.dataDir, 'blobs')), {
        maxBytes: 64 * 1024 * 1024,
        maxAgeMs: 60_000,
      });
    case 'postgres':
      return PostgresBlobStore.open(db);
    case 's3': {
      const s3 = config.storage.s3;
      return S3BlobStore.open({
        bucket: s3.bucket,
        prefix: s3.prefix,
        client: {
          region: s3.region,
          forcePathStyle: s3.forcePathStyle,
          ...(s3.endpoint === '' ? {} : { endpoint: s3.endpoint }),
          ...(s3.accessKeyId === ''
            ? {}
            : {
                credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
              }),
        },
      });
    }
  }
}
