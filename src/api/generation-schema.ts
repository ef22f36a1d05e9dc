import type { GenerationInput } from '../jobs/generation-input.ts';

/** JSON schema of a generation request body (types only; ranges depend on the model). */
export const generationBodySchema = {
  type: 'object',
  required: ['prompt'],
  additionalProperties: false,
  properties: {
    prompt: { type: 'string', maxLength: 10000 },
    negative_prompt: { type: 'string', maxLength: 10000 },
    model: { type: 'string' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    steps: { type: 'integer' },
    guidance_scale: { type: 'number' },
    scheduler: { type: 'string' },
    seed: { type: 'integer' },
    n: { type: 'integer' },
    output_format: { type: 'string', enum: ['png', 'jpeg', 'webp'] },
    quality: { type: 'integer' },
    init_image: { type: 'string', description: 'Upload id, base64 or data URI' },
    mask: { type: 'string', description: 'Upload id, base64 or data URI' },
    strength: { type: 'number' },
    safety_filter: { type: 'boolean' },
    webhook_url: { type: 'string', format: 'uri' },
    priority: { type: 'integer' },
    preview: { type: 'boolean', description: 'Progress events carry preview images' },
  },
} as const;

export interface GenerationBody {
  prompt: string;
  negative_prompt?: string;
  model?: string;
  width?: number;
  height?: number;
  steps?: number;
  guidance_scale?: number;
  scheduler?: string;
  seed?: number;
  n?: number;
  output_format?: 'png' | 'jpeg' | 'webp';
  quality?: number;
  init_image?: string;
  mask?: string;
  strength?: number;
  safety_filter?: boolean;
  webhook_url?: string;
  priority?: number;
  preview?: boolean;
}

export function toGenerationInput(b: GenerationBody): GenerationInput {
  return {
    prompt: b.prompt,
    negativePrompt: b.negative_prompt,
    model: b.model,
    width: b.width,
    height: b.height,
    steps: b.steps,
    guidanceScale: b.guidance_scale,
    scheduler: b.scheduler,
    seed: b.seed,
    n: b.n,
    outputFormat: b.output_format,
    quality: b.quality,
    initImage: b.init_image,
    mask: b.mask,
    strength: b.strength,
    safetyFilter: b.safety_filter,
    webhookUrl: b.webhook_url,
    priority: b.priority,
    preview: b.preview,
  };
}
