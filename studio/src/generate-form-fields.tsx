import type { ModelView } from './api-types.ts';
import { DiceIcon } from './dice-icon.tsx';
import {
  OUTPUT_FORMATS,
  formForModel,
  randomSeed,
  sizePresets,
  type GenerationForm,
} from './generation-form.ts';

interface Props {
  readonly models: readonly ModelView[];
  readonly form: GenerationForm;
  readonly onChange: (form: GenerationForm) => void;
}

/** The settings of a generation, bounded by the chosen model's limits. */
export function GenerateFormFields({ models, form, onChange }: Props) {
  const model = models.find((m) => m.name === form.model);
  const set = <K extends keyof GenerationForm>(key: K, value: GenerationForm[K]): void =>
    onChange({ ...form, [key]: value });
  const presets = model ? sizePresets(model) : [];
  const sizeValue = `${form.width}x${form.height}`;
  return (
    <div class="fields">
      <label class="wide">
        Prompt
        <textarea
          name="prompt"
          rows={3}
          required
          value={form.prompt}
          onInput={(e) => set('prompt', e.currentTarget.value)}
        />
      </label>
      <label class="wide">
        Negative prompt
        <input
          name="negative_prompt"
          value={form.negativePrompt}
          onInput={(e) => set('negativePrompt', e.currentTarget.value)}
        />
      </label>
      <label>
        Model
        <select
          name="model"
          value={form.model}
          onChange={(e) => {
            const chosen = models.find((m) => m.name === e.currentTarget.value);
            if (chosen) onChange(formForModel(chosen, form));
          }}
        >
          {models.map((m) => (
            <option
              key={m.name}
              value={m.name}
              disabled={!m.available}
              title={m.error ?? undefined}
            >
              {m.name} ({m.family})
              {m.state === 'failed' ? ' — failed to load' : m.available ? '' : ' — unavailable'}
            </option>
          ))}
        </select>
      </label>
      {model && (
        <p class="model-info" aria-label="model details">
          {model.family} · default {model.defaults.width}×{model.defaults.height},{' '}
          {model.defaults.steps} steps, guidance {model.defaults.guidance_scale} · sizes{' '}
          {model.limits.min_size}–{model.limits.max_size} in steps of {model.limits.size_multiple},
          up to {model.limits.max_steps} steps
        </p>
      )}
      <label>
        Size
        <select
          name="size"
          value={sizeValue}
          onChange={(e) => {
            const [w, h] = e.currentTarget.value.split('x').map(Number);
            onChange({ ...form, width: w ?? form.width, height: h ?? form.height });
          }}
        >
          {presets.every((p) => `${p.width}x${p.height}` !== sizeValue) && (
            <option value={sizeValue}>
              {form.width}×{form.height}
            </option>
          )}
          {presets.map((p) => (
            <option key={p.label} value={`${p.width}x${p.height}`}>
              {p.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Steps
        <input
          name="steps"
          type="number"
          min={1}
          max={model?.limits.max_steps}
          value={form.steps}
          onInput={(e) => set('steps', Number(e.currentTarget.value))}
        />
      </label>
      <label>
        Guidance
        <input
          name="guidance_scale"
          type="number"
          min={0}
          step={0.5}
          value={form.guidanceScale}
          onInput={(e) => set('guidanceScale', Number(e.currentTarget.value))}
        />
      </label>
      <label>
        Scheduler
        <select
          name="scheduler"
          value={form.scheduler}
          onChange={(e) => set('scheduler', e.currentTarget.value)}
        >
          {(model?.schedulers ?? [form.scheduler]).map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Seed
        <span class="seed">
          <input
            name="seed"
            type="number"
            min={0}
            value={form.seed}
            onInput={(e) => set('seed', Number(e.currentTarget.value))}
          />
          <button
            type="button"
            title="A random seed"
            aria-label="random seed"
            onClick={() => set('seed', randomSeed())}
          >
            <DiceIcon />
          </button>
          <label class="inline" title="Keep this seed for the next generations">
            <input
              name="seed_locked"
              type="checkbox"
              checked={form.seedLocked}
              onChange={(e) => set('seedLocked', e.currentTarget.checked)}
            />
            lock
          </label>
        </span>
      </label>
      <label>
        Images
        <input
          name="n"
          type="number"
          min={1}
          max={model?.limits.max_batch}
          value={form.n}
          onInput={(e) => set('n', Number(e.currentTarget.value))}
        />
      </label>
      <label>
        Format
        <select
          name="output_format"
          value={form.outputFormat}
          onChange={(e) =>
            set('outputFormat', OUTPUT_FORMATS.find((f) => f === e.currentTarget.value) ?? 'png')
          }
        >
          {OUTPUT_FORMATS.map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}
