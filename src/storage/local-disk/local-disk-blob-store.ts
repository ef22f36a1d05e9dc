import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { BlobStore } from '../blob-store.ts';

/** Blobs as files under one root directory; writes go through a temp file and a rename. */
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
    const temp = `${file}.${process.pid}.tmp`;
    try {
      await writeFile(temp, data);
    } catch (error) {
      // The folder was removed behind our back (a restore, an operator): make it again, once.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await this.#makeFolder(folder);
      await writeFile(temp, data);
    }
    await rename(temp, file);
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
}
