import type { LoadPipelineOptions } from '../../engine/index.ts';
import type { WorkerModel } from './model-cache.ts';

/** The engine's options for a model's `tokenizers` setting (`models.list[].tokenizers`). */
export function tokenizerOptions(
  model: WorkerModel,
): Pick<NonNullable<LoadPipelineOptions['checkpoint']>, 't5TokenizerDir' | 'qwen3TokenizerDir'> {
  const { t5, qwen3 } = model.tokenizers ?? {};
  return {
    ...(t5 === undefined ? {} : { t5TokenizerDir: t5 }),
    ...(qwen3 === undefined ? {} : { qwen3TokenizerDir: qwen3 }),
  };
}

const ENCODERS = { t5: 'T5', qwen3: 'Qwen3' } as const;

/**
 * Why a model's `tokenizers` setting cannot be used, naming it, or undefined when it can. The
 * config checked its shape; the folders are checked here, where the model's files are (an API
 * node of a cluster need not have them), before the model is described and before each load: a
 * wrong one makes the model unavailable with this reason instead of failing its first job with
 * the engine's message about a folder the user may not recognise as a setting.
 */
export async function tokenizerSettingProblem(
  model: WorkerModel,
  isOnnxFolder: boolean,
): Promise<string | undefined> {
  const named = Object.entries(model.tokenizers ?? {}) as [keyof typeof ENCODERS, string][];
  if (named.length === 0) return undefined;
  if (isOnnxFolder) {
    return `tokenizers: ${named.map(([role]) => role).join(', ')} name T5/Qwen3 tokenizer folders for .safetensors models (FLUX, SD 3.x, Z-Image); ${model.path} is an ONNX folder, whose tokenizers are its own`;
  }
  const { hasTokenizerJson } = await import('../../engine/index.ts');
  for (const [role, dir] of named) {
    if (!(await hasTokenizerJson(dir))) {
      return `tokenizers.${role}: no ${ENCODERS[role]} tokenizer in ${dir} (looked for tokenizer.json and tokenizer.json.gz); name the folder holding the model's tokenizer.json, or remove the setting to use the model's own or the one Pictor bundles`;
    }
  }
  return undefined;
}
