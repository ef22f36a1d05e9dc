import extractChunks from 'png-chunks-extract';
import type { JobParameters } from './api-types.ts';

/** Parameters read back from a PNG Pictor made, with the model that made it. */
export interface EmbeddedParameters {
  readonly model: string | undefined;
  readonly parameters: Partial<JobParameters>;
}

/** The `pictor` JSON chunk Pictor writes (`GenerationParameters` in the engine). */
interface PictorChunk {
  readonly prompt?: string;
  readonly negativePrompt?: string;
  readonly steps?: number;
  readonly scheduler?: string;
  readonly guidanceScale?: number;
  readonly seed?: number;
  readonly width?: number;
  readonly height?: number;
  readonly model?: string;
  readonly strength?: number;
}

/** tEXt (Latin-1) and uncompressed iTXt (UTF-8) chunks by keyword. */
function pngTexts(png: Uint8Array): Map<string, string> {
  const texts = new Map<string, string>();
  for (const chunk of extractChunks(png)) {
    const nul = chunk.data.indexOf(0);
    if (nul < 0) continue;
    const keyword = new TextDecoder('latin1').decode(chunk.data.subarray(0, nul));
    if (chunk.name === 'tEXt') {
      texts.set(keyword, new TextDecoder('latin1').decode(chunk.data.subarray(nul + 1)));
    } else if (chunk.name === 'iTXt' && chunk.data[nul + 1] === 0) {
      const language = chunk.data.indexOf(0, nul + 3);
      const translated = chunk.data.indexOf(0, language + 1);
      if (language >= 0 && translated >= 0)
        texts.set(keyword, new TextDecoder().decode(chunk.data.subarray(translated + 1)));
    }
  }
  return texts;
}

function fromPictorJson(json: string): EmbeddedParameters {
  const p = JSON.parse(json) as PictorChunk;
  return {
    model: p.model,
    parameters: {
      ...(p.prompt === undefined ? {} : { prompt: p.prompt }),
      ...(p.negativePrompt === undefined ? {} : { negative_prompt: p.negativePrompt }),
      ...(p.steps === undefined ? {} : { steps: p.steps }),
      ...(p.scheduler === undefined ? {} : { scheduler: p.scheduler }),
      ...(p.guidanceScale === undefined ? {} : { guidance_scale: p.guidanceScale }),
      ...(p.seed === undefined ? {} : { seed: p.seed }),
      ...(p.width === undefined ? {} : { width: p.width }),
      ...(p.height === undefined ? {} : { height: p.height }),
      ...(p.strength === undefined ? {} : { strength: p.strength }),
    },
  };
}

/**
 * AUTOMATIC1111's `parameters` text: the prompt, an optional `Negative prompt:` line, then one
 * line of `Key: value` pairs (values with commas are JSON-quoted).
 */
function fromInfotext(text: string): EmbeddedParameters {
  const lines = text.split('\n');
  const last = lines.at(-1) ?? '';
  const hasPairs = /(^|, )Steps: /.test(last);
  const body = hasPairs ? lines.slice(0, -1) : lines;
  const negativeAt = body.findIndex((l) => l.startsWith('Negative prompt: '));
  const prompt = (negativeAt < 0 ? body : body.slice(0, negativeAt)).join('\n');
  const negative =
    negativeAt < 0 ? '' : body.slice(negativeAt).join('\n').slice('Negative prompt: '.length);
  const pairs = new Map<string, string>();
  for (const m of last.matchAll(/\s*([\w ]+): ("(?:[^"\\]|\\.)*"|[^,]*)(?:,|$)/g)) {
    const value = m[2] ?? '';
    pairs.set(m[1] ?? '', value.startsWith('"') ? (JSON.parse(value) as string) : value);
  }
  const number = (key: string): number | undefined =>
    pairs.has(key) ? Number(pairs.get(key)) : undefined;
  const size = /^(\d+)x(\d+)$/.exec(pairs.get('Size') ?? '');
  const parameters: Partial<JobParameters> = {
    prompt,
    negative_prompt: negative,
    ...(number('Steps') === undefined ? {} : { steps: number('Steps') }),
    ...(number('CFG scale') === undefined ? {} : { guidance_scale: number('CFG scale') }),
    ...(number('Seed') === undefined ? {} : { seed: number('Seed') }),
    ...(size ? { width: Number(size[1]), height: Number(size[2]) } : {}),
  };
  return { model: pairs.get('Model'), parameters };
}

/** The generation parameters embedded in a PNG, or undefined when it carries none. */
export function embeddedParameters(png: Uint8Array): EmbeddedParameters | undefined {
  const texts = pngTexts(png);
  const json = texts.get('pictor');
  if (json !== undefined) return fromPictorJson(json);
  const infotext = texts.get('parameters');
  return infotext === undefined ? undefined : fromInfotext(infotext);
}
