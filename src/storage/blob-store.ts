/**
 * Where result images and uploads are kept. Keys are opaque slash-separated strings chosen by the
 * caller. Implemented by `local-disk/` today; an S3 adapter fits the same contract.
 */
export interface BlobStore {
  /** Stores `data` under `key`, replacing any previous value; durable when the promise resolves. */
  put(key: string, data: Uint8Array): Promise<void>;
  /** The bytes under `key`, or `undefined` when absent. */
  get(key: string): Promise<Buffer | undefined>;
  /** Removes `key`; absent keys are not an error. */
  delete(key: string): Promise<void>;
  /** Finishes background work (files made ahead, connections); the store is not used after. */
  close(): Promise<void>;
}
