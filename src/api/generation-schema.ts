import type { GenerationInput } from '../jobs/generation-input.ts';

// `null` means "the default", as if the field were absent: clients send it for unset values
// (Python's None; Scratchy documents null defaults), and schema coercion would read it as 0 or "".
const nullableInteger = { type: ['integer', 'null'] } as const;
const nullableNumber = { type: ['number', 'null'] } as const;
const nullableString = { type: ['string', 'null'] } as const;

/** JSON schema of a generation request body (types only; ranges depend on the model). */
export const generationBodySchema = {
  type: 'object',
  required: ['prompt'],
  additionalProperties: false,
  properties: {
    // Length limits are the configured queue.maxPromptLength, checked with the other ranges.
    prompt: { type: 'string' },
    negative_prompt: nullableString,
    model: nullableString,
    width: nullableInteger,
    height: nullableInteger,
    steps: nullableInteger,
    guidance_scale: nullableNumber,
    scheduler: nullableString,
    seed: nullableInteger,
    n: nullableInteger,
    output_format: { type: ['string', 'null'], enum: ['png', 'jpeg', 'webp', null] },
    quality: nullableInteger,
    init_image: { ...nullableString, description: 'Upload id, base64 or data URI' },
    mask: { ...nullableString, description: 'Upload id, base64 or data URI' },
    strength: nullableNumber,
    safety_filter: { type: ['boolean', 'null'] },
    webhook_url: { ...nullableString, format: 'uri' },
    priority: nullableInteger,
    preview: { type: ['boolean', 'null'], description: 'Progress events carry preview images' },
    skip_layer_guidance: {
      type: ['object', 'null'],
      description:
        "SD 3.x skip-layer guidance (diffusers' skip_guidance_layers, skip_layer_guidance_scale/start/stop); SD 3.5 Medium: layers [7, 8, 9]",
      required: ['layers'],
      additionalProperties: false,
      properties: {
        layers: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 },
        scale: { type: 'number', minimum: 0, maximum: 50, description: 'Default 2.8' },
        start: { type: 'number', minimum: 0, maximum: 1, description: 'Default 0.01' },
        stop: { type: 'number', minimum: 0, maximum: 1, description: 'Default 0.2' },
      },
    },
  },
} as const;

export interface GenerationBody {
  prompt: string;
  negative_prompt?: string | null;
  model?: string | null;
  width?: number | null;
  height?: number | null;
  steps?: number | null;
  guidance_scale?: number | null;
  scheduler?: string | null;
  seed?: number | null;
  n?: number | null;
  output_format?: 'png' | 'jpeg' | 'webp' | null;
  quality?: number | null;
  init_image?: string | null;
  mask?: string | null;
  strength?: number | null;
  safety_filter?: boolean | null;
  webhook_url?: string | null;
  priority?: number | null;
  preview?: boolean | null;
  skip_layer_guidance?: { layers: number[]; scale?: number; start?: number; stop?: number } | null;
}

export function toGenerationInput(b: GenerationBody): GenerationInput {
  return {
    prompt: b.prompt,
    negativePrompt: b.negative_prompt ?? undefined,
    model: b.model ?? undefined,
    width: b.width ?? undefined,
    height: b.height ?? undefined,
    steps: b.steps ?? undefined,
    guidanceScale: b.guidance_scale ?? undefined,
    scheduler: b.scheduler ?? undefined,
    seed: b.seed ?? undefined,
    n: b.n ?? undefined,
    outputFormat: b.output_format ?? undefined,
    quality: b.quality ?? undefined,
    initImage: b.init_image ?? undefined,
    mask: b.mask ?? undefined,
    strength: b.strength ?? undefined,
    safetyFilter: b.safety_filter ?? undefined,
    webhookUrl: b.webhook_url ?? undefined,
    priority: b.priority ?? undefined,
    preview: b.preview ?? undefined,
    skipLayerGuidance: b.skip_layer_guidance ?? undefined,
  };
}
