import type { ModelRef } from './model-ref.ts';

/** A hash a source publishes for a file. */
export interface Digest {
  /** `git-sha1`: Git's blob hash, what Hugging Face gives for small (non-LFS) files. */
  readonly algorithm: 'sha256' | 'git-sha1';
  readonly hex: string;
}

/** One file a pull downloads. */
export interface PlannedFile {
  readonly url: string;
  /** Final path; written as `dest.partial` first. */
  readonly dest: string;
  readonly size: number | undefined;
  /** Roughly how big it is when the exact size is not published (free-space check, progress). */
  readonly expectedBytes: number | undefined;
  readonly digest: Digest | undefined;
  /** Request headers; may hold a token, so never logged, echoed or put in a message. */
  readonly headers: Readonly<Record<string, string>>;
  /** What the user knows the file as (`unet/model.onnx`), for progress and errors. */
  readonly label: string;
  /** The host, for messages. */
  readonly host: string;
  /** What to do about a 401/403: which token setting. */
  readonly authHint: string;
}

/** What a source decided a pull needs; the puller downloads `files`, then calls `commit`. */
export interface PullPlan {
  /** Library name of the model. */
  readonly name: string;
  readonly files: readonly PlannedFile[];
  /**
   * Makes the downloaded files a model in the library (links, sidecar). Runs only after every
   * file is verified, so a failed pull leaves nothing half-registered.
   */
  commit(): Promise<void>;
}

/** What a pull was asked for. */
export interface PullRequest {
  readonly ref: ModelRef;
  /** Library name; the source derives one when absent. */
  readonly name: string | undefined;
}

/**
 * A place models come from (port). `plan` resolves a reference to files without downloading
 * them; it throws `ProblemError`s naming the cause and the fix (`MODEL_SOURCE_NOT_FOUND`,
 * `MODEL_SOURCE_UNAUTHORIZED` with the token setting, `MODEL_SOURCE_INVALID`).
 */
export interface ModelSource {
  plan(request: PullRequest, signal: AbortSignal): Promise<PullPlan>;
}
