import path from 'node:path/posix';
import { ProblemError } from '../errors/index.ts';
import { escapes } from './model-ref.ts';

/** Python pickles (code runs when they load) and other frameworks' weights: never downloaded. */
const PICKLES = /\.(bin|ckpt|pt|pth|pkl|pickle)$/i;
const NOT_NEEDED = /\.(msgpack|h5|ot|tflite|mlmodel|png|jpe?g|gif|webp|md|gitattributes)$/i;
const CONFIG_FILES = /\.(json|txt|model)$/i;

export interface ChosenFiles {
  /** The model's folder inside the repo ('' for the root), or the one file. */
  readonly root: string;
  /** Repo paths to download. */
  readonly files: readonly string[];
}

function invalid(message: string): ProblemError {
  return new ProblemError('MODEL_SOURCE_INVALID', message, { field: 'source' });
}

/** `diffusion_pytorch_model.fp16-00001-of-00002.safetensors` → `fp16`; '' without a variant. */
function variantOf(file: string): string {
  return /\.([a-z0-9]+)(?:-\d+-of-\d+)?\.safetensors$/i.exec(path.basename(file))?.[1] ?? '';
}

function chooseSafetensors(
  component: string,
  files: readonly string[],
  preferFp16: boolean,
): string[] {
  const byVariant = new Map<string, string[]>();
  for (const file of files) {
    const variant = variantOf(file);
    byVariant.set(variant, [...(byVariant.get(variant) ?? []), file]);
  }
  const order = preferFp16 ? ['fp16', '', 'bf16'] : ['', 'fp16', 'bf16'];
  const variant = order.find((v) => byVariant.has(v)) ?? [...byVariant.keys()][0];
  const chosen = variant === undefined ? undefined : byVariant.get(variant);
  if (!chosen) throw invalid(`${component}: no .safetensors weights (pickles are never loaded)`);
  return chosen;
}

/**
 * Picks the files the engine needs from a repo listing: a single `.safetensors` file named by
 * `subpath`; or a diffusers folder's `model_index.json`, configs, tokenizers and weights — the
 * ONNX components when the folder (or its `onnx/` subfolder) has them, else each component's best
 * safetensors variant (`fp16` first when the device computes in fp16). Pickles never.
 */
export function chooseRepoFiles(
  listed: readonly string[],
  subpath: string,
  preferFp16: boolean,
): ChosenFiles {
  // A listing is the hub's word: a path that would leave the snapshot folder is dropped.
  const paths = listed.filter((p) => !escapes(p));
  if (subpath !== '' && paths.includes(subpath)) {
    if (PICKLES.test(subpath))
      throw invalid(`${subpath} is a pickle; Pictor loads only .safetensors and ONNX`);
    if (!subpath.endsWith('.safetensors'))
      throw invalid(`${subpath} is not a model file (.safetensors)`);
    return { root: subpath, files: [subpath] };
  }
  let root = subpath;
  const under = (dir: string): string[] =>
    paths
      .filter((p) => dir === '' || p.startsWith(`${dir}/`))
      .map((p) => (dir === '' ? p : p.slice(dir.length + 1)));
  let rel = under(root);
  if (!rel.includes('model_index.json') && rel.includes('onnx/model_index.json')) {
    root = path.join(root, 'onnx');
    rel = under(root);
  }
  if (!rel.includes('model_index.json')) {
    const singles = rel.filter((p) => !p.includes('/') && p.endsWith('.safetensors'));
    if (singles.length === 1 && singles[0]) {
      const file = path.join(root, singles[0]);
      return { root: file, files: [file] };
    }
    if (singles.length > 1)
      throw invalid(
        `the repo holds several checkpoints; name one: ${singles.map((s) => `…/${s}`).join(', ')}`,
      );
    throw invalid(`no model_index.json or .safetensors file${root ? ` under ${root}` : ''}`);
  }
  const inFolder = rel.filter((p) => p.includes('/'));
  const onnx = inFolder.some((p) => /^[^/]+\/model\.onnx$/.test(p));
  const chosen = ['model_index.json', ...rel.filter((p) => p === 'pictor.json')];
  if (onnx) {
    chosen.push(
      ...inFolder.filter(
        (p) => !PICKLES.test(p) && !NOT_NEEDED.test(p) && !p.endsWith('.safetensors'),
      ),
    );
  } else {
    chosen.push(...inFolder.filter((p) => CONFIG_FILES.test(p)));
    const components = new Map<string, string[]>();
    for (const p of inFolder) {
      const component = p.split('/')[0] ?? '';
      if (p.endsWith('.safetensors'))
        components.set(component, [...(components.get(component) ?? []), p]);
      else if (PICKLES.test(p) && !components.has(component)) components.set(component, []);
    }
    for (const [component, files] of components)
      chosen.push(...chooseSafetensors(component, files, preferFp16));
  }
  return { root, files: chosen.map((p) => path.join(root, p)) };
}
