import { renameSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BlobStore } from '../blob-store.ts';

/**
 * Blobs up to this size are written synchronously: a small write takes tens of microseconds,
 * less than the thread-pool round trips (open, write, close, rename) of an async one, each a
 * cross-thread wake-up on the result's hot path.
 */
const SYNC_WRITE_MAX_BYTES = 256 * 1024;

/**
 * Blobs as files under one root directory. A write fills a temp file and renames it into place,
 * so a reader never sees half a blob.
 */
export class LocalDiskBlobStore implements BlobStore {
  readonly #root: string;
  // Folders already made; blobs share a few (results/, uploads/), so mkdir runs once each.
  readonly #folders = new Set<string>();

  constructor(root: string) {
    this.#root = path.resolve(root);
  }

  #path(key: string): string {
    const file = path.resolve(this.#root, key);
    if (!file.startsWith(this.#root + path.sep))
      throw new Error(`blob key escapes the store: ${key}`);
    return file;
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const file = this.#path(key);
    const folder = path.dirname(file);
    if (!this.#folders.has(folder)) await this.#makeFolder(folder);
    try {
      await this.#write(file, data);
    } catch (error) {
      // The folder was removed behind our back (a restore, an operator): make it again, once.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await this.#makeFolder(folder);
      await this.#write(file, data);
    }
  }

  async #write(file: string, data: Uint8Array): Promise<void> {
    await fill(`${file}.${process.pid}.tmp`, file, data);
  }

  async #makeFolder(folder: string): Promise<void> {
    await mkdir(folder, { recursive: true });
    this.#folders.add(folder);
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.#path(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Writes `data` into `temp` and renames it to `file`. */
async function fill(temp: string, file: string, data: Uint8Array): Promise<void> {
  if (data.byteLength <= SYNC_WRITE_MAX_BYTES) {
    writeFileSync(temp, data);
    renameSync(temp, file);
    return;
  }
  await writeFile(temp, data);
  await rename(temp, file);
}
