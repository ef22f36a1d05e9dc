import type { JobParameters, ModelView } from './api-types.ts';

/** What the generate form holds; the body of `POST /v1/jobs` is made from it. */
export interface GenerationForm {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly model: string;
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly guidanceScale: number;
  readonly scheduler: string;
  readonly seed: number;
  readonly seedLocked: boolean;
  readonly n: number;
  readonly outputFormat: 'png' | 'jpeg' | 'webp';
  readonly strength: number;
}

export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;

export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}

/** The form with a model's defaults. */
export function formForModel(model: ModelView, previous?: GenerationForm): GenerationForm {
  return {
    prompt: previous?.prompt ?? '',
    negativePrompt: previous?.negativePrompt ?? '',
    model: model.name,
    width: model.defaults.width,
    height: model.defaults.height,
    steps: model.defaults.steps,
    guidanceScale: model.defaults.guidance_scale,
    scheduler: model.defaults.scheduler,
    seed: previous?.seed ?? randomSeed(),
    seedLocked: previous?.seedLocked ?? false,
    n: previous?.n ?? 1,
    outputFormat: previous?.outputFormat ?? 'png',
    strength: previous?.strength ?? 0.75,
  };
}

/** A job's parameters put back in the form ("reuse parameters"), its seed locked. */
export function formFromJob(
  form: GenerationForm,
  model: string,
  p: Partial<JobParameters>,
): GenerationForm {
  const format = OUTPUT_FORMATS.find((f) => f === p.output_format);
  return {
    ...form,
    model,
    prompt: p.prompt ?? form.prompt,
    negativePrompt: p.negative_prompt ?? form.negativePrompt,
    width: p.width ?? form.width,
    height: p.height ?? form.height,
    steps: p.steps ?? form.steps,
    guidanceScale: p.guidance_scale ?? form.guidanceScale,
    scheduler: p.scheduler ?? form.scheduler,
    seed: p.seed ?? form.seed,
    seedLocked: p.seed !== undefined || form.seedLocked,
    n: p.n ?? form.n,
    outputFormat: format ?? form.outputFormat,
    strength: p.strength ?? form.strength,
  };
}

/** Common shapes at the model's default area and at twice its side, within its limits. */
export function sizePresets(model: ModelView): { label: string; width: number; height: number }[] {
  const { min_size: min, max_size: max, size_multiple: step } = model.limits;
  const round = (v: number): number => Math.min(max, Math.max(min, Math.round(v / step) * step));
  const shapes: [string, number, number][] = [
    ['1:1', 1, 1],
    ['4:3', 4 / 3, 1],
    ['3:4', 1, 4 / 3],
    ['16:9', 16 / 9, 1],
    ['9:16', 1, 16 / 9],
  ];
  const presets = [1, 2].flatMap((scale) => {
    const side = model.defaults.width * scale;
    return shapes.map(([label, w, h]) => {
      const k = Math.sqrt((side * side) / (w * h));
      const width = round(w * k);
      const height = round(h * k);
      return { label: `${label} · ${width}×${height}`, width, height };
    });
  });
  return presets.filter(
    (p, i) => presets.findIndex((q) => q.width === p.width && q.height === p.height) === i,
  );
}

/** The `/v1/jobs` body; images are data URIs (the API takes them as they are). */
export function jobBody(
  form: GenerationForm,
  initImage: string | undefined,
  mask: string | undefined,
): Record<string, unknown> {
  return {
    prompt: form.prompt,
    negative_prompt: form.negativePrompt,
    model: form.model,
    width: form.width,
    height: form.height,
    steps: form.steps,
    guidance_scale: form.guidanceScale,
    scheduler: form.scheduler,
    seed: form.seed,
    n: form.n,
    output_format: form.outputFormat,
    preview: true,
    ...(initImage === undefined ? {} : { init_image: initImage, strength: form.strength }),
    ...(mask === undefined ? {} : { mask }),
  };
}
