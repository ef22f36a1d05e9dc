import { renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import {
  lstat,
  mkdir,
  readFile,
  readdir,
  rename,
  rm,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { checkBlobKey, type BlobPutOptions, type BlobStore } from '../blob-store.ts';
import { expiryOf } from './expiry-stamp.ts';

/**
 * Blobs up to this size are written synchronously: a small write takes tens of microseconds,
 * less than the thread-pool round trips (open, write, close, rename) of an async one, each a
 * cross-thread wake-up on the result's hot path.
 */
const SYNC_WRITE_MAX_BYTES = 256 * 1024;

/**
 * Blobs as files under one root directory. A write fills a temp file and renames it into place,
 * so a reader never sees half a blob. A blob's expiry is its file's modification time (see
 * `expiry-stamp.ts`): no index to keep in step, and the stat a read makes anyway tells whether the
 * blob is still there.
 */
export class LocalDiskBlobStore implements BlobStore {
  readonly #root: string;
  // Folders already made; blobs share a few (results/, uploads/), so mkdir runs once each.
  readonly #folders = new Set<string>();

  constructor(root: string) {
    this.#root = path.resolve(root);
  }

  #path(key: string): string {
    checkBlobKey(key);
    const file = path.resolve(this.#root, key);
    if (!file.startsWith(this.#root + path.sep))
      throw new Error(`blob key escapes the store: ${key}`);
    return file;
  }

  async put(key: string, data: Uint8Array, options: BlobPutOptions = {}): Promise<void> {
    const file = this.#path(key);
    const { expiresAt } = options;
    if (expiresAt !== undefined && expiresAt <= Date.now()) return this.delete(key);
    const folder = path.dirname(file);
    if (!this.#folders.has(folder)) await this.#makeFolder(folder);
    try {
      await this.#write(file, data, expiresAt);
    } catch (error) {
      // The folder was removed behind our back (a restore, an operator): make it again, once.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await this.#makeFolder(folder);
      await this.#write(file, data, expiresAt);
    }
  }

  async #write(file: string, data: Uint8Array, expiresAt: number | undefined): Promise<void> {
    await fill(`${file}.${process.pid}.tmp`, file, data, expiresAt);
  }

  async #makeFolder(folder: string): Promise<void> {
    await mkdir(folder, { recursive: true });
    this.#folders.add(folder);
  }

  async get(key: string): Promise<Buffer | undefined> {
    const file = this.#path(key);
    // A synchronous stat of a cached inode takes microseconds, less than one more thread-pool
    // round trip (a file handle's open, fstat, read and close cost twice readFile's time).
    const stats = statSync(file, { throwIfNoEntry: false });
    if (stats === undefined) return undefined;
    const expiresAt = expiryOf(stats);
    if (expiresAt !== undefined && expiresAt <= Date.now()) return undefined;
    try {
      return await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // deleted since
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  async deleteExpired(now: number, limit: number): Promise<number> {
    let removed = 0;
    let entries;
    try {
      entries = await readdir(this.#root, { recursive: true, withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0; // nothing written yet
      throw error;
    }
    for (const entry of entries) {
      if (removed >= limit) break;
      const file = path.join(entry.parentPath, entry.name);
      // Dot-named entries are not blobs: no key has a dot-led segment.
      if (!entry.isFile() || path.relative(this.#root, file).split(path.sep).some(isDotted)) {
        continue;
      }
      const expiresAt = expiryOf(await lstat(file).catch(() => undefined));
      if (expiresAt === undefined || expiresAt > now) continue;
      // unlink, not rm --force: only the caller whose unlink succeeded counts the blob.
      if (
        await unlink(file).then(
          () => true,
          () => false,
        )
      )
        removed++;
    }
    return removed;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const isDotted = (segment: string): boolean => segment.startsWith('.');

/**
 * Writes `data` into `temp`, stamps its expiry, and renames it to `file`. A failed write (a full
 * disk) removes `temp`, so nothing half-written is left behind.
 */
async function fill(
  temp: string,
  file: string,
  data: Uint8Array,
  expiresAt: number | undefined,
): Promise<void> {
  const stamp = expiresAt === undefined ? undefined : new Date(expiresAt);
  try {
    if (data.byteLength <= SYNC_WRITE_MAX_BYTES) {
      writeFileSync(temp, data);
      if (stamp) utimesSync(temp, stamp, stamp);
      renameSync(temp, file);
      return;
    }
    await writeFile(temp, data);
    if (stamp) await utimes(temp, stamp, stamp);
    await rename(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
