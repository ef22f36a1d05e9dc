import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  MODEL_ALIAS_PATTERN,
  parseQuantization,
  TOKENIZER_ROLES,
  type ModelTokenizersConfig,
} from '../config/index.ts';
import { sidecarOverrides } from './sidecar-settings.ts';
import {
  SIDECAR_SUFFIX,
  isModelName,
  type LibraryModel,
  type ModelFormat,
  type ModelSidecar,
} from './library-model.ts';

/** Bytes under a path, following links (a pulled model links into the Hugging Face cache). */
export async function diskSize(target: string): Promise<number> {
  const info = await stat(target).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const entry of await readdir(target)) total += await diskSize(path.join(target, entry));
  return total;
}

/** What a folder holds: a diffusers folder with ONNX components, one with safetensors, or neither. */
export async function folderFormat(dir: string): Promise<ModelFormat | undefined> {
  if (!existsSync(path.join(dir, 'model_index.json'))) return undefined;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (existsSync(path.join(dir, entry.name, 'model.onnx'))) return 'onnx';
  }
  return 'diffusers';
}

/**
 * A model's sidecar; a field of the wrong type is ignored (a hand edit must not take the model
 * down), an unreadable file reads as empty.
 */
export async function readSidecar(file: string): Promise<ModelSidecar> {
  let raw: Record<string, unknown>;
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return {};
    raw = parsed as Record<string, unknown>;
  } catch {
    return {};
  }
  const text = (key: string): string | undefined => {
    const value = raw[key];
    return typeof value === 'string' ? value : undefined;
  };
  const integer = (key: string, min: number): number | undefined => {
    const value = raw[key];
    return typeof value === 'number' && Number.isInteger(value) && value >= min ? value : undefined;
  };
  const sidecar = {
    source: text('source'),
    family: text('family'),
    pulledAt: text('pulledAt'),
    cost: integer('cost', 0),
    keepAliveSeconds: integer('keepAliveSeconds', -1),
    quantization: parseQuantization(raw['quantization']),
    tokenizers: tokenizerFolders(raw['tokenizers'], path.dirname(file)),
    overrides: sidecarOverrides(raw['overrides']),
    aliases: sidecarAliases(raw['aliases']),
  };
  return Object.fromEntries(Object.entries(sidecar).filter(([, v]) => v !== undefined));
}

/** A sidecar's `aliases`: the well-formed ones (a hand edit's others are ignored). */
function sidecarAliases(raw: unknown): readonly string[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const aliases = raw.filter(
    (a): a is string => typeof a === 'string' && MODEL_ALIAS_PATTERN.test(a),
  );
  return aliases.length > 0 ? aliases : undefined;
}

/** A sidecar's `tokenizers`: each known encoder's folder, relative ones from `dir`; others ignored. */
function tokenizerFolders(raw: unknown, dir: string): ModelTokenizersConfig | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const folders: Record<string, string> = {};
  for (const role of TOKENIZER_ROLES) {
    const folder = (raw as Record<string, unknown>)[role];
    if (typeof folder === 'string' && folder !== '') folders[role] = path.resolve(dir, folder);
  }
  return Object.keys(folders).length > 0 ? folders : undefined;
}

export function sidecarPath(dir: string, name: string): string {
  return path.join(dir, `${name}${SIDECAR_SUFFIX}`);
}

export async function writeSidecar(
  dir: string,
  name: string,
  sidecar: ModelSidecar,
): Promise<void> {
  await writeFile(sidecarPath(dir, name), `${JSON.stringify(sidecar, null, 2)}\n`);
}

/** One model at `target` named `name`, or undefined when it is not a model. */
export async function describeModelPath(
  name: string,
  target: string,
  sidecar: ModelSidecar,
): Promise<LibraryModel | undefined> {
  const info = await stat(target).catch(() => undefined);
  if (!info) return undefined;
  const format = info.isDirectory()
    ? await folderFormat(target)
    : target.endsWith('.safetensors')
      ? 'safetensors'
      : undefined;
  if (!format) return undefined;
  return {
    name,
    path: target,
    format,
    source: sidecar.source,
    family: sidecar.family,
    sizeBytes: await diskSize(target),
    cost: sidecar.cost,
    keepAliveSeconds: sidecar.keepAliveSeconds,
    quantization: sidecar.quantization,
    ...(sidecar.tokenizers ? { tokenizers: sidecar.tokenizers } : {}),
    ...(sidecar.overrides === undefined ? {} : { overrides: sidecar.overrides }),
    ...(sidecar.aliases === undefined ? {} : { aliases: sidecar.aliases }),
    origin: 'library',
  };
}

/**
 * Every model in a models folder: each `NAME.safetensors` file and each diffusers/ONNX folder
 * `NAME/` (links included), with its `NAME.pictor.json` sidecar. Partial downloads, hidden
 * entries and anything else are skipped.
 */
export async function scanModelFolder(dir: string): Promise<LibraryModel[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  const models: LibraryModel[] = [];
  for (const entry of entries.sort()) {
    if (
      entry.startsWith('.') ||
      entry.endsWith('.partial') ||
      entry.endsWith('.partial.lock') ||
      entry.endsWith(SIDECAR_SUFFIX)
    )
      continue;
    const name = entry.replace(/\.safetensors$/i, '');
    if (!isModelName(name)) continue;
    const model = await describeModelPath(
      name,
      path.join(dir, entry),
      await readSidecar(sidecarPath(dir, name)),
    );
    if (model) models.push(model);
  }
  return models;
}
