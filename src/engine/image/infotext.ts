import type { SchedulerName } from '../schedulers/scheduler.ts';

/** The generation parameters embedded in every image, enough to reproduce it. */
export interface GenerationParameters {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly steps: number;
  readonly scheduler: SchedulerName;
  readonly guidanceScale: number;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  readonly model: string;
  /** Set for img2img and inpainting. */
  readonly strength?: number;
  readonly mode: 'txt2img' | 'img2img' | 'inpaint';
  readonly version: string;
}

/** AUTOMATIC1111's sampler label and schedule type for each of our schedulers. */
export const A1111_SAMPLERS: Readonly<
  Record<SchedulerName, { sampler: string; schedule: string }>
> = {
  euler: { sampler: 'Euler', schedule: 'Automatic' },
  euler_a: { sampler: 'Euler a', schedule: 'Automatic' },
  ddim: { sampler: 'DDIM', schedule: 'Automatic' },
  dpmpp_2m: { sampler: 'DPM++ 2M', schedule: 'Automatic' },
  dpmpp_2m_karras: { sampler: 'DPM++ 2M', schedule: 'Karras' },
  lms: { sampler: 'LMS', schedule: 'Automatic' },
  pndm: { sampler: 'PLMS', schedule: 'Automatic' },
  lcm: { sampler: 'LCM', schedule: 'Automatic' },
};

/**
 * The `parameters` text AUTOMATIC1111 writes into its PNGs: prompt, negative prompt, then one
 * line of `Key: value` pairs, values quoted as JSON when they hold a comma, colon or newline.
 */
export function formatInfotext(parameters: GenerationParameters): string {
  const { sampler, schedule } = A1111_SAMPLERS[parameters.scheduler];
  const pairs: [string, string | number | undefined][] = [
    ['Steps', parameters.steps],
    ['Sampler', sampler],
    ['Schedule type', schedule],
    ['CFG scale', parameters.guidanceScale],
    ['Seed', parameters.seed],
    ['Size', `${parameters.width}x${parameters.height}`],
    ['Model', parameters.model],
    ['Denoising strength', parameters.strength],
    ['Version', `pictor ${parameters.version}`],
  ];
  const line = pairs
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}: ${quote(String(value))}`)
    .join(', ');
  const negative = parameters.negativePrompt
    ? `\nNegative prompt: ${parameters.negativePrompt}`
    : '';
  return `${parameters.prompt}${negative}\n${line}`;
}

function quote(text: string): string {
  return /[,:\n]/.test(text) ? JSON.stringify(text) : text;
}

/** Parses an infotext back into its prompt, negative prompt and `Key: value` pairs. */
export function parseInfotext(text: string): {
  prompt: string;
  negativePrompt: string;
  values: Record<string, string>;
} {
  const lines = text.trim().split('\n');
  const last = lines.at(-1) ?? '';
  const hasValues = /^(?:[\w ()-]+: [^,]*(?:, |$))+/.test(last) && lines.length > 0;
  const body = hasValues ? lines.slice(0, -1) : lines;
  const values: Record<string, string> = {};
  if (hasValues) {
    for (const match of last.matchAll(/\s*([\w ()-]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g)) {
      const key = match[1]?.trim();
      const raw = match[2]?.trim() ?? '';
      if (key) values[key] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    }
  }
  const negativeAt = body.findIndex((line) => line.startsWith('Negative prompt:'));
  const prompt = (negativeAt === -1 ? body : body.slice(0, negativeAt)).join('\n');
  const negativePrompt =
    negativeAt === -1
      ? ''
      : body.slice(negativeAt).join('\n').slice('Negative prompt:'.length).trim();
  return { prompt, negativePrompt, values };
}
