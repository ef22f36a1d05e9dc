import { open, realpath } from 'node:fs/promises';
import { EngineError } from '../engine-error.ts';
import { fileIdentity, type FileIdentity } from './file-identity.ts';
import { isPickleFile, refusePickle } from './pickle-refusal.ts';
import {
  checkHeaderLength,
  HEADER_LENGTH_BYTES,
  invalid,
  parseSafetensorsHeader,
  type SafetensorsHeader,
} from './safetensors-header.ts';

/** One `.safetensors` file's checked header, and what the file looked like when it was read. */
export interface SafetensorsFile extends SafetensorsHeader {
  /** Real absolute path: the graphs reference it relative to `/`, which ONNX Runtime requires. */
  readonly file: string;
  readonly identity: FileIdentity;
}

/**
 * Reads only the header of a `.safetensors` file (the weights stay on disk) and checks it
 * against the file's size. Every problem is an `EngineError` naming the file.
 */
export async function readSafetensors(file: string): Promise<SafetensorsFile> {
  if (isPickleFile(file)) throw refusePickle(file);
  let real: string;
  try {
    real = await realpath(file);
  } catch (error) {
    throw new EngineError('MODEL_INVALID', `${file} cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const handle = await open(real, 'r');
  try {
    const identity = await fileIdentity(real);
    if (identity.size < HEADER_LENGTH_BYTES) {
      throw invalid(real, `it is ${identity.size} bytes, too short to hold a header`);
    }
    const lengthBytes = Buffer.alloc(HEADER_LENGTH_BYTES);
    await handle.read(lengthBytes, 0, HEADER_LENGTH_BYTES, 0);
    const headerLength = checkHeaderLength(real, lengthBytes.readBigUInt64LE(0), identity.size);
    const headerBytes = Buffer.alloc(headerLength);
    await handle.read(headerBytes, 0, headerLength, HEADER_LENGTH_BYTES);
    const header = parseSafetensorsHeader(real, headerBytes, identity.size);
    return { ...header, file: real, identity };
  } finally {
    await handle.close();
  }
}
