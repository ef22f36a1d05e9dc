import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { rename, rm, stat, truncate } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProblemError } from '../errors/index.ts';
import { withFileLock } from './file-lock.ts';
import type { Digest, PlannedFile } from './pull-plan.ts';

export interface DownloadOptions {
  readonly signal: AbortSignal;
  /** Attempts after a network failure before giving up (the partial file is kept). */
  readonly retries: number;
  /** First retry delay; later ones double. */
  readonly backoffMs: number;
  /** Bytes of this file on disk so far (resumed bytes count from the start). */
  readonly onProgress: (completed: number) => void;
  /** The bytes are all there; hashing starts. */
  readonly onVerifying: () => void;
}

/** A failure worth another attempt: the connection dropped, a 5xx, a 429. */
class TransientError extends Error {}

/** `.partial` next to the final file: renamed only once it is complete and verified. */
export function partialPath(dest: string): string {
  return `${dest}.partial`;
}

async function sizeOf(file: string): Promise<number> {
  return stat(file).then(
    (s) => s.size,
    () => 0,
  );
}

async function hashOf(file: string, digest: Digest, size: number): Promise<string> {
  const hash = createHash(digest.algorithm === 'sha256' ? 'sha256' : 'sha1');
  // Git hashes a blob with its header: how Hugging Face names a small (non-LFS) file.
  if (digest.algorithm === 'git-sha1') hash.update(`blob ${size}\0`);
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

function statusError(file: PlannedFile, status: number): Error {
  if (status === 401 || status === 403) {
    return new ProblemError(
      'MODEL_SOURCE_UNAUTHORIZED',
      `${status} from ${file.host} for ${file.label}: ${file.authHint}`,
    );
  }
  if (status === 404) {
    return new ProblemError('MODEL_SOURCE_NOT_FOUND', `404 from ${file.host}: no ${file.label}`);
  }
  if (status === 429 || status >= 500) return new TransientError(`HTTP ${status}`);
  return new ProblemError(
    'MODEL_DOWNLOAD_FAILED',
    `HTTP ${status} from ${file.host} for ${file.label}`,
  );
}

async function attempt(file: PlannedFile, options: DownloadOptions): Promise<void> {
  const partial = partialPath(file.dest);
  let start = await sizeOf(partial);
  if (file.size !== undefined && start > file.size) {
    await truncate(partial, 0);
    start = 0;
  }
  options.onProgress(start);
  if (file.size !== undefined && start === file.size) return;
  let response: Response;
  try {
    response = await fetch(file.url, {
      headers: { ...file.headers, ...(start > 0 ? { range: `bytes=${start}-` } : {}) },
      signal: options.signal,
    });
  } catch (error) {
    if (options.signal.aborted) throw error;
    throw new TransientError((error as Error).message, { cause: error });
  }
  if (response.status === 416 && start > 0) return;
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw statusError(file, response.status);
  }
  // A server that ignores Range sends the whole file again: start over.
  const append = start > 0 && response.status === 206;
  let completed = append ? start : 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      completed += chunk.length;
      options.onProgress(completed);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(response.body as never, { signal: options.signal }),
      counter,
      createWriteStream(partial, { flags: append ? 'a' : 'w' }),
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') {
      await rm(partial, { force: true });
      throw new ProblemError(
        'INSUFFICIENT_STORAGE',
        `the disk filled up while downloading ${file.label}; the partial file was deleted — free space and pull again`,
      );
    }
    if (options.signal.aborted) throw error;
    throw new TransientError((error as Error).message, { cause: error });
  }
  if (file.size !== undefined && completed < file.size) {
    throw new TransientError(`the connection closed after ${completed} of ${file.size} bytes`);
  }
}

async function verifyAndPlace(file: PlannedFile): Promise<void> {
  const partial = partialPath(file.dest);
  const size = await sizeOf(partial);
  if (file.size !== undefined && size !== file.size) {
    await rm(partial, { force: true });
    throw new ProblemError(
      'MODEL_HASH_MISMATCH',
      `${file.label} is ${size} bytes, the source says ${file.size}; the file was deleted — pull again`,
    );
  }
  if (file.digest) {
    const actual = await hashOf(partial, file.digest, size);
    if (actual !== file.digest.hex) {
      await rm(partial, { force: true });
      throw new ProblemError(
        'MODEL_HASH_MISMATCH',
        `${file.label}: ${file.digest.algorithm} ${actual} does not match the published ${file.digest.hex}; the file was deleted — pull again`,
      );
    }
  }
  await rename(partial, file.dest);
}

/**
 * Downloads one file to `file.dest` through `dest.partial`: resumes a partial file with an HTTP
 * Range request, retries network failures with doubling backoff (keeping what arrived), checks
 * size and hash, and renames only a verified file into place. A file already at `dest` is kept.
 * 401/403/404 and hash mismatches are not retried. Headers (tokens) are never part of a message.
 * One process at a time downloads a file (`withFileLock`); another waits for it.
 */
export async function downloadFile(file: PlannedFile, options: DownloadOptions): Promise<void> {
  try {
    await withFileLock(partialPath(file.dest), options.signal, () => download(file, options));
  } catch (error) {
    if (options.signal.aborted && !(error instanceof ProblemError))
      throw new ProblemError('PULL_CANCELLED', `the pull was cancelled during ${file.label}`);
    throw error;
  }
}

async function download(file: PlannedFile, options: DownloadOptions): Promise<void> {
  // Another process may have finished it while this one waited for the lock.
  if (existsSync(file.dest)) {
    options.onProgress(await sizeOf(file.dest));
    return;
  }
  for (let tries = 0; ; tries++) {
    try {
      await attempt(file, options);
      break;
    } catch (error) {
      if (options.signal.aborted) {
        throw new ProblemError('PULL_CANCELLED', `the pull was cancelled during ${file.label}`);
      }
      if (!(error instanceof TransientError)) throw error;
      if (tries >= options.retries) {
        const kept = await sizeOf(partialPath(file.dest));
        throw new ProblemError(
          'MODEL_DOWNLOAD_FAILED',
          `${file.label} from ${file.host} failed ${tries + 1} times (${error.message}); ` +
            `${kept} bytes are kept and the next pull resumes from there`,
        );
      }
      await sleep(options.backoffMs * 2 ** tries, undefined, { signal: options.signal }).catch(
        () => undefined,
      );
    }
  }
  options.onVerifying();
  await verifyAndPlace(file);
}
