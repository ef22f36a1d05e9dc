import { ProblemError } from '../../../errors/index.ts';
import type { GenerationInput } from '../../../jobs/generation-input.ts';
import type { Caller } from '../../../jobs/job-service.ts';

/** `POST /api/generate` as mflux-server documents it; sizes and steps default per model here. */
export const mfluxGenerateSchema = {
  type: 'object',
  required: ['prompt'],
  additionalProperties: true,
  properties: {
    prompt: { type: 'string', maxLength: 10000 },
    seed: {
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      description: 'A number, or a string of digits as mflux-server takes it',
    },
    height: { type: 'integer' },
    width: { type: 'integer' },
    steps: { type: 'integer' },
    guidance: { type: 'number' },
    format: { type: 'string', description: 'JPEG (default) or PNG, in any case' },
    quality: { type: 'integer', description: 'JPEG quality, 1–100 (85 by default)' },
    priority: {
      type: 'boolean',
      description: "Ahead of the queue, as far as the key's priority allows",
    },
  },
} as const;

export const MFLUX_PARAMS = Object.keys(mfluxGenerateSchema.properties);

export interface MfluxGenerateBody {
  prompt: string;
  seed?: string | number;
  height?: number;
  width?: number;
  steps?: number;
  guidance?: number;
  format?: string;
  quality?: number;
  priority?: boolean;
}

const invalid = (field: string, why: string): ProblemError =>
  new ProblemError('VALIDATION_FAILED', `${field}: ${why}`, { field });

function seedOf(seed: string | number | undefined): number | undefined {
  if (seed === undefined || typeof seed === 'number') return seed;
  if (!/^\d{1,10}$/.test(seed.trim())) throw invalid('seed', `must be digits, got '${seed}'`);
  return Number(seed.trim());
}

function formatOf(format: string | undefined): 'jpeg' | 'png' {
  const upper = (format ?? 'JPEG').toUpperCase();
  if (upper === 'JPEG' || upper === 'JPG') return 'jpeg';
  if (upper === 'PNG') return 'png';
  throw invalid('format', `must be JPEG or PNG, got '${format}'`);
}

/** The generation an mflux request asks for; `priority: true` uses the key's highest priority. */
export function mfluxInput(body: MfluxGenerateBody, caller: Caller): GenerationInput {
  const outputFormat = formatOf(body.format);
  return {
    prompt: body.prompt,
    seed: seedOf(body.seed),
    width: body.width,
    height: body.height,
    steps: body.steps,
    guidanceScale: body.guidance,
    outputFormat,
    quality: outputFormat === 'jpeg' ? (body.quality ?? 85) : undefined,
    priority: body.priority === true ? caller.maxPriority : 0,
  };
}
