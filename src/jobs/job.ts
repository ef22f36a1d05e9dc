import type { SkipLayerGuidanceParams } from './generation-input.ts';
import type { OutputFormat } from './output-format.ts';

/** Lifecycle: `queued → running → completed | failed | cancelled | expired`. */
export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'expired';

export const TERMINAL_STATUSES: readonly JobStatus[] = [
  'completed',
  'failed',
  'cancelled',
  'expired',
];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/**
 * A generation request after validation, with every default resolved (the seed too, so a retry on
 * a fresh worker produces the same images). Input images are upload ids, never bytes.
 */
export interface GenerationParams {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly guidanceScale: number;
  readonly scheduler: string;
  readonly seed: number;
  readonly n: number;
  readonly outputFormat: OutputFormat;
  readonly quality: number;
  readonly initImage: string | null;
  readonly mask: string | null;
  readonly strength: number | null;
  readonly safetyFilter: boolean;
  /** Whether progress events carry previews (costs a few ms per step). */
  readonly preview: boolean;
  /** SD 3.x only; absent in jobs stored before it existed. */
  readonly skipLayerGuidance?: SkipLayerGuidanceParams | undefined;
  /** Notes from validation (e.g. an ignored parameter), reported with the result. */
  readonly warnings: readonly string[];
}

/** One stored output image. `key` addresses it in the blob store. */
export interface JobImage {
  readonly key: string;
  readonly seed: number;
  readonly mimeType: string;
  readonly width: number;
  readonly height: number;
  readonly nsfw: boolean;
}

export interface JobResult {
  readonly images: readonly JobImage[];
  readonly warnings: readonly string[];
  /** Engine time for this job's batch, in seconds. */
  readonly generationTime: number;
}

export interface JobError {
  readonly code: string;
  readonly message: string;
}

/** A job as stored. Times are epoch milliseconds. */
export interface Job {
  readonly id: string;
  /** API-key id of the caller; `local` when auth is not configured. */
  readonly owner: string;
  readonly status: JobStatus;
  /** Higher runs first; 0 for everyone unless a key was granted more. */
  readonly priority: number;
  readonly model: string;
  readonly params: GenerationParams;
  /** Jobs with equal keys may share one engine batch. */
  readonly batchKey: string;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** Times the job was handed to a worker; a second worker death fails it. */
  readonly attempts: number;
  readonly error: JobError | null;
  readonly result: JobResult | null;
  readonly webhookUrl: string | null;
  /** Null until accounts and credits exist. */
  readonly creditsUsed: number | null;
  readonly resultExpiresAt: number | null;
  /** True once the result files were removed (expired or `?delete=true`). */
  readonly resultDeleted: boolean;
}

/**
 * Fields a state transition may change; `model`, `params` and `batchKey` only while the job
 * waits for its model (pulled on request, then resolved against that model's own limits).
 */
export type JobPatch = Partial<
  Pick<
    Job,
    | 'model'
    | 'params'
    | 'batchKey'
    | 'status'
    | 'startedAt'
    | 'finishedAt'
    | 'attempts'
    | 'error'
    | 'result'
    | 'creditsUsed'
    | 'resultExpiresAt'
    | 'resultDeleted'
  >
>;

/** Same model, size, steps, scheduler, guidance (skip-layer guidance too) and mode → one engine batch. */
export function batchKeyOf(model: string, p: GenerationParams): string {
  const mode = p.mask ? 'inpaint' : p.initImage ? `img2img:${p.strength}` : 'txt2img';
  const key = [model, p.width, p.height, p.steps, p.scheduler, p.guidanceScale, mode];
  if (p.skipLayerGuidance) key.push(`slg:${JSON.stringify(p.skipLayerGuidance)}`);
  return key.join('|');
}
