import type { GenerationInput } from '../jobs/generation-input.ts';

// `null` means "the default", as if the field were absent: clients send it for unset values, and
// schema coercion would otherwise read it as 0.
const nullableInteger = { type: ['integer', 'null'] } as const;
const nullableNumber = { type: ['number', 'null'] } as const;

/** JSON schema of a generation request body (types only; ranges depend on the model). */
export const generationBodySchema = {
  type: 'object',
  required: ['prompt'],
  additionalProperties: false,
  properties: {
    // Length limits are the configured queue.maxPromptLength, checked with the other ranges.
    prompt: { type: 'string' },
    negative_prompt: { type: 'string' },
    model: { type: 'string' },
    width: nullableInteger,
    height: nullableInteger,
    steps: nullableInteger,
    guidance_scale: nullableNumber,
    scheduler: { type: 'string' },
    seed: nullableInteger,
    n: nullableInteger,
    output_format: { type: 'string', enum: ['png', 'jpeg', 'webp'] },
    quality: nullableInteger,
    init_image: { type: 'string', description: 'Upload id, base64 or data URI' },
    mask: { type: 'string', description: 'Upload id, base64 or data URI' },
    strength: nullableNumber,
    safety_filter: { type: 'boolean' },
    webhook_url: { type: 'string', format: 'uri' },
    priority: nullableInteger,
    preview: { type: 'boolean', description: 'Progress events carry preview images' },
  },
} as const;

export interface GenerationBody {
  prompt: string;
  negative_prompt?: string;
  model?: string;
  width?: number | null;
  height?: number | null;
  steps?: number | null;
  guidance_scale?: number | null;
  scheduler?: string;
  seed?: number | null;
  n?: number | null;
  output_format?: 'png' | 'jpeg' | 'webp';
  quality?: number | null;
  init_image?: string;
  mask?: string;
  strength?: number | null;
  safety_filter?: boolean;
  webhook_url?: string;
  priority?: number | null;
  preview?: boolean;
}

export function toGenerationInput(b: GenerationBody): GenerationInput {
  return {
    prompt: b.prompt,
    negativePrompt: b.negative_prompt,
    model: b.model,
    width: b.width ?? undefined,
    height: b.height ?? undefined,
    steps: b.steps ?? undefined,
    guidanceScale: b.guidance_scale ?? undefined,
    scheduler: b.scheduler,
    seed: b.seed ?? undefined,
    n: b.n ?? undefined,
    outputFormat: b.output_format,
    quality: b.quality ?? undefined,
    initImage: b.init_image,
    mask: b.mask,
    strength: b.strength ?? undefined,
    safetyFilter: b.safety_filter,
    webhookUrl: b.webhook_url,
    priority: b.priority ?? undefined,
    preview: b.preview,
  };
}
