import { formatInfotext } from '../../../engine/image/infotext.ts';
import { readPngText } from '../../../engine/image/png-text.ts';
import type { SchedulerName } from '../../../engine/schedulers/scheduler.ts';
import { ENGINE_VERSION } from '../../../engine/version.ts';
import type { Job } from '../../../jobs/job.ts';
import type { ResultImage } from '../dialect-jobs.ts';
import type { ResolvedSampler } from './samplers.ts';

/** The `parameters` text of an image: the one Pictor embedded, else rebuilt from the job. */
export function infotextOf(result: ResultImage): string {
  if (result.image.mimeType === 'image/png') {
    try {
      const text = readPngText(result.data)['parameters'];
      if (text !== undefined) return text;
    } catch {
      // Not readable as PNG chunks: fall back to the job's parameters.
    }
  }
  const p = result.job.params;
  return formatInfotext({
    prompt: p.prompt,
    negativePrompt: p.negativePrompt,
    steps: p.steps,
    scheduler: p.scheduler as SchedulerName,
    guidanceScale: p.guidanceScale,
    seed: result.image.seed,
    width: result.image.width,
    height: result.image.height,
    model: result.job.model,
    ...(p.strength === null ? {} : { strength: p.strength }),
    mode: p.mask ? 'inpaint' : p.initImage ? 'img2img' : 'txt2img',
    version: ENGINE_VERSION,
  });
}

function timestamp(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
}

/**
 * The `info` string of a txt2img / img2img response: `Processed.js()` of A1111 (seed, all_seeds,
 * infotexts, sampler, size…), plus `warnings` (what Pictor substituted or ignored).
 */
export function a1111Info(
  results: readonly ResultImage[],
  first: Job,
  sampler: ResolvedSampler,
  batchSize: number,
  warnings: readonly string[],
): string {
  const p = first.params;
  const seeds = results.map((r) => r.image.seed);
  const count = results.length;
  return JSON.stringify({
    prompt: p.prompt,
    all_prompts: Array.from({ length: count }, () => p.prompt),
    negative_prompt: p.negativePrompt,
    all_negative_prompts: Array.from({ length: count }, () => p.negativePrompt),
    seed: seeds[0] ?? p.seed,
    all_seeds: seeds,
    subseed: -1,
    all_subseeds: seeds.map(() => -1),
    subseed_strength: 0,
    width: p.width,
    height: p.height,
    sampler_name: sampler.sampler,
    cfg_scale: p.guidanceScale,
    steps: p.steps,
    batch_size: batchSize,
    restore_faces: false,
    face_restoration_model: null,
    sd_model_name: first.model,
    sd_model_hash: null,
    sd_vae_name: null,
    sd_vae_hash: null,
    seed_resize_from_w: -1,
    seed_resize_from_h: -1,
    denoising_strength: p.strength,
    extra_generation_params: { 'Schedule type': sampler.schedule },
    index_of_first_image: 0,
    infotexts: results.map(infotextOf),
    styles: [],
    job_timestamp: timestamp(first.createdAt),
    clip_skip: 1,
    is_using_inpainting_conditioning: p.mask !== null,
    version: `pictor ${ENGINE_VERSION}`,
    warnings: [...new Set([...warnings, ...results.flatMap((r) => r.job.result?.warnings ?? [])])],
  });
}

/** Fields never echoed back: SillyTavern sends its A1111 password as `auth` in the body. */
const NOT_ECHOED = ['auth', 'url'];

/**
 * `parameters` of the response: the request as received with Pictor's resolved values for what
 * it left out (A1111 echoes its request model with defaults filled in). Input images are left
 * out unless `include_init_images`.
 */
export function echoParameters(
  body: Readonly<Record<string, unknown>>,
  first: Job,
  sampler: ResolvedSampler,
  includeInitImages: boolean,
): Record<string, unknown> {
  const p = first.params;
  const echo: Record<string, unknown> = {
    prompt: p.prompt,
    negative_prompt: p.negativePrompt,
    seed: -1,
    sampler_name: sampler.sampler,
    scheduler: sampler.schedule,
    batch_size: 1,
    n_iter: 1,
    steps: p.steps,
    cfg_scale: p.guidanceScale,
    width: p.width,
    height: p.height,
    denoising_strength: p.strength,
    override_settings: {},
    send_images: true,
    save_images: false,
    ...body,
  };
  for (const key of NOT_ECHOED) delete echo[key];
  if ('init_images' in echo && !includeInitImages) {
    echo['init_images'] = null;
    echo['mask'] = null;
  }
  return echo;
}
