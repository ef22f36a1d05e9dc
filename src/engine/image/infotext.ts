import type {
  AnySchedulerName,
  FlowSchedulerName,
  SchedulerName,
} from '../schedulers/scheduler.ts';

/** The generation parameters embedded in every image, enough to reproduce it. */
export interface GenerationParameters {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly steps: number;
  readonly scheduler: AnySchedulerName;
  readonly guidanceScale: number;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  readonly model: string;
  /** Set for img2img and inpainting. */
  readonly strength?: number;
  readonly mode: 'txt2img' | 'img2img' | 'inpaint';
  /** SD 3.x skip-layer guidance, when the run had it. */
  readonly skipLayerGuidance?: {
    readonly layers: readonly number[];
    readonly scale: number;
    readonly start: number;
    readonly stop: number;
  };
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

/** Flow-matching models' sampler as AUTOMATIC1111 Forge and ComfyUI label FLUX runs. */
export const A1111_FLOW_SAMPLERS: Readonly<
  Record<FlowSchedulerName, { sampler: string; schedule: string }>
> = {
  flow_euler: { sampler: 'Euler', schedule: 'Simple' },
};

/**
 * The `parameters` text AUTOMATIC1111 writes into its PNGs: prompt, negative prompt, then one
 * line of `Key: value` pairs, values quoted as JSON when they hold a comma, colon or newline.
 */
export function formatInfotext(parameters: GenerationParameters): string {
  const { sampler, schedule } = { ...A1111_SAMPLERS, ...A1111_FLOW_SAMPLERS }[parameters.scheduler];
  const pairs: [string, string | number | undefined][] = [
    ['Steps', parameters.steps],
    ['Sampler', sampler],
    ['Schedule type', schedule],
    ['CFG scale', parameters.guidanceScale],
    ['Seed', parameters.seed],
    ['Size', `${parameters.width}x${parameters.height}`],
    ['Model', parameters.model],
    ['Denoising strength', parameters.strength],
    ['Skip layer guidance', skipLayerText(parameters.skipLayerGuidance)],
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

/** `layers 7 8 9 scale 2.8 steps 0.01-0.2`: one value, no commas, so A1111 readers keep it whole. */
function skipLayerText(guidance: GenerationParameters['skipLayerGuidance']): string | undefined {
  if (!guidance) return undefined;
  const { layers, scale, start, stop } = guidance;
  return `layers ${layers.join(' ')} scale ${scale} steps ${start}-${stop}`;
}

function quote(text: string): string {
  return /[,:\n]/.test(text) ? JSON.stringify(text) : text;
}

const KEY = /^[\w ()-]+$/;

/** The end of a JSON string starting at `open` (a `"`), or -1 when it is not closed. */
function closingQuote(line: string, open: number): number {
  for (let i = open + 1; i < line.length; i++) {
    if (line[i] === '\\') i++;
    else if (line[i] === '"') return i;
  }
  return -1;
}

/**
 * The `Key: value, Key: "quoted, value", …` pairs of an infotext's last line, or undefined when
 * the line is not such a list (then it belongs to the prompt). One left-to-right pass: the
 * regexes this replaces backtracked quadratically on long hostile lines.
 */
function parseValuesLine(line: string): Record<string, string> | undefined {
  const values: Record<string, string> = {};
  let i = 0;
  while (i < line.length) {
    const colon = line.indexOf(':', i);
    if (colon === -1) return undefined;
    const key = line.slice(i, colon).trim();
    if (!KEY.test(key)) return undefined;
    i = colon + 1;
    while (line[i] === ' ') i++;
    const close = line[i] === '"' ? closingQuote(line, i) : -1;
    const comma = line.indexOf(',', close === -1 ? i : close);
    const end = comma === -1 ? line.length : comma;
    const raw = line.slice(i, end).trim();
    values[key] = close === -1 ? raw : unquote(raw);
    i = end + 1;
  }
  return Object.keys(values).length > 0 ? values : undefined;
}

function unquote(raw: string): string {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'string' ? value : raw;
  } catch {
    return raw;
  }
}

/** Parses an infotext back into its prompt, negative prompt and `Key: value` pairs. */
export function parseInfotext(text: string): {
  prompt: string;
  negativePrompt: string;
  values: Record<string, string>;
} {
  const lines = text.trim().split('\n');
  const parsed = parseValuesLine(lines.at(-1) ?? '');
  const body = parsed ? lines.slice(0, -1) : lines;
  const values = parsed ?? {};
  const negativeAt = body.findIndex((line) => line.startsWith('Negative prompt:'));
  const prompt = (negativeAt === -1 ? body : body.slice(0, negativeAt)).join('\n');
  const negativePrompt =
    negativeAt === -1
      ? ''
      : body.slice(negativeAt).join('\n').slice('Negative prompt:'.length).trim();
  return { prompt, negativePrompt, values };
}
