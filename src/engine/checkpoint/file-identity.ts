import { stat } from 'node:fs/promises';
import { EngineError } from '../engine-error.ts';

/**
 * What a weight file looked like when its header was read. Sessions point at byte ranges inside
 * the user's file, so a file replaced or rewritten since would feed a graph the wrong bytes: it
 * is checked again before each session is created.
 */
export interface FileIdentity {
  readonly size: number;
  readonly mtimeMs: number;
}

export async function fileIdentity(file: string): Promise<FileIdentity> {
  const stats = await stat(file);
  return { size: stats.size, mtimeMs: stats.mtimeMs };
}

/** Throws `MODEL_INVALID` naming the file when it changed (or vanished) since `loaded`. */
export async function assertFileUnchanged(file: string, loaded: FileIdentity): Promise<void> {
  let now: FileIdentity;
  try {
    now = await fileIdentity(file);
  } catch (error) {
    throw new EngineError('MODEL_INVALID', `${file} is gone since the model was loaded`, {
      cause: error,
    });
  }
  if (now.size !== loaded.size || now.mtimeMs !== loaded.mtimeMs) {
    throw new EngineError(
      'MODEL_INVALID',
      `${file} changed since the model was loaded (size ${loaded.size} → ${now.size}, ` +
        `modified ${new Date(now.mtimeMs).toISOString()}); reload the model to use the new file`,
    );
  }
}
