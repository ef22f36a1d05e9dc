import type { ErrorCode } from '../errors/index.ts';

/**
 * One progress line of a pull, shaped like Ollama's `/api/pull` stream (`status`, `total`,
 * `completed`), sent as-is by the SSE route and the CLI's `--json`.
 */
export type PullEvent =
  | { readonly status: 'pulling manifest'; readonly source: string }
  | {
      readonly status: 'downloading';
      readonly file: string;
      /** Bytes of this file; absent when the source does not say. */
      readonly total: number | undefined;
      readonly completed: number;
    }
  | { readonly status: 'verifying'; readonly file: string }
  | { readonly status: 'success'; readonly model: string }
  | { readonly status: 'error'; readonly code: ErrorCode; readonly error: string };

export type PullState = 'running' | 'succeeded' | 'failed' | 'cancelled';

/** A pull as the API and CLI see it. */
export interface PullView {
  readonly id: string;
  readonly source: string;
  /** The library name, once the source has said it. */
  readonly model: string | undefined;
  readonly state: PullState;
  readonly total: number;
  readonly completed: number;
  readonly error: string | undefined;
}
