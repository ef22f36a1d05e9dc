import { A1111_FLOW_SAMPLERS, A1111_SAMPLERS } from '../../../engine/image/infotext.ts';
import type { AnySchedulerName } from '../../../engine/schedulers/scheduler.ts';
import type { ModelInfo } from '../../../jobs/inference-workers.ts';

/** AUTOMATIC1111's schedule types that Pictor's schedulers cover (`GET /sdapi/v1/schedulers`). */
export const A1111_SCHEDULERS = [
  {
    name: 'automatic',
    label: 'Automatic',
    aliases: null,
    default_rho: -1,
    need_inner_model: false,
  },
  { name: 'karras', label: 'Karras', aliases: null, default_rho: 7, need_inner_model: false },
] as const;

/** Old k-diffusion style names some clients still send. */
const ALIASES: Readonly<Record<AnySchedulerName, readonly string[]>> = {
  euler: ['k_euler'],
  euler_a: ['k_euler_a', 'k_euler_ancestral'],
  ddim: [],
  dpmpp_2m: ['k_dpmpp_2m'],
  dpmpp_2m_karras: ['k_dpmpp_2m_ka'],
  lms: ['k_lms'],
  pndm: ['plms'],
  lcm: ['k_lcm'],
  flow_euler: ['k_euler'],
};

/** Every scheduler Pictor has: what a model still to be pulled may turn out to support. */
export const PICTOR_SCHEDULERS = Object.keys(ALIASES) as readonly AnySchedulerName[];

// Flow-matching models (FLUX) list their Euler as A1111 Forge does; a model's own schedulers
// decide which of two same-labelled entries a request gets.
const entries = (): [AnySchedulerName, { sampler: string; schedule: string }][] =>
  Object.entries({ ...A1111_SAMPLERS, ...A1111_FLOW_SAMPLERS }) as [
    AnySchedulerName,
    { sampler: string; schedule: string },
  ][];

/** `GET /sdapi/v1/samplers`: one entry per A1111 sampler label some model supports. */
export function samplerList(
  models: readonly ModelInfo[],
): { name: string; aliases: string[]; options: Record<string, string> }[] {
  const supported = new Set(models.flatMap((m) => m.schedulers));
  const byLabel = new Map<string, string[]>();
  for (const [ours, { sampler }] of entries()) {
    if (!supported.has(ours)) continue;
    byLabel.set(sampler, [...(byLabel.get(sampler) ?? []), ours, ...ALIASES[ours]]);
  }
  return [...byLabel].map(([name, aliases]) => ({ name, aliases, options: {} }));
}

/** Pictor's scheduler for an A1111 sampler and schedule type, with what had to give way. */
export interface ResolvedSampler {
  readonly scheduler: string;
  readonly sampler: string;
  readonly schedule: string;
  readonly warnings: readonly string[];
}

const norm = (s: string): string => s.trim().toLowerCase();

function scheduleOf(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const found = A1111_SCHEDULERS.find(
    (s) => norm(s.label) === norm(value) || s.name === norm(value),
  );
  return found?.label ?? value;
}

/**
 * Maps `sampler_name` (+ `scheduler`) to one of the model's schedulers. A sampler label may carry
 * its schedule (`DPM++ 2M Karras`), as before A1111 1.9. Like A1111 ≥ 1.9, an unknown sampler or
 * schedule falls back (to the model's default scheduler, or the sampler's Automatic schedule)
 * rather than failing; the fallback is reported in `info.warnings`.
 */
export function resolveSampler(
  samplerName: string | undefined,
  scheduleName: string | undefined,
  model: ModelInfo,
): ResolvedSampler {
  const fallback = (warnings: string[]): ResolvedSampler => {
    const labels = { ...A1111_SAMPLERS, ...A1111_FLOW_SAMPLERS }[
      model.defaultScheduler as AnySchedulerName
    ] as { sampler: string; schedule: string } | undefined;
    return {
      scheduler: model.defaultScheduler,
      sampler: labels?.sampler ?? model.defaultScheduler,
      schedule: labels?.schedule ?? 'Automatic',
      warnings,
    };
  };
  if (samplerName === undefined || samplerName.trim() === '') return fallback([]);
  let name = samplerName.trim();
  let schedule = scheduleOf(scheduleName);
  for (const s of A1111_SCHEDULERS) {
    if (norm(name).endsWith(` ${norm(s.label)}`)) {
      name = name.slice(0, -(s.label.length + 1));
      schedule = s.label;
    }
  }
  const candidates = entries().filter(
    ([ours, labels]) =>
      model.schedulers.includes(ours) &&
      (norm(labels.sampler) === norm(name) ||
        ours === norm(name) ||
        ALIASES[ours].includes(norm(name))),
  );
  if (candidates.length === 0) {
    return fallback([
      `sampler '${samplerName}' is not available; used ${model.defaultScheduler} instead`,
    ]);
  }
  const wanted = schedule ?? 'Automatic';
  const exact = candidates.find(([, labels]) => norm(labels.schedule) === norm(wanted));
  const chosen = exact ?? candidates.find(([, l]) => l.schedule === 'Automatic') ?? candidates[0];
  if (!chosen) return fallback([]);
  const [ours, labels] = chosen;
  const warnings =
    exact || schedule === undefined
      ? []
      : [
          `schedule type '${schedule}' is not available for ${labels.sampler}; used ${labels.schedule}`,
        ];
  return { scheduler: ours, sampler: labels.sampler, schedule: labels.schedule, warnings };
}
