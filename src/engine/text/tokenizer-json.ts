import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { EngineError } from '../engine-error.ts';

const NAMES = ['tokenizer.json', 'tokenizer.json.gz'] as const;

/** What a user can do when a folder named for a tokenizer holds none. */
const TOKENIZER_FIX =
  "copy the model's tokenizer folder there (its Hugging Face repository's tokenizer.json), or name no tokenizer folder to use the one Pictor bundles";

/** Whether `dir` holds a `tokenizer.json` (or the gzipped one Pictor bundles). */
export async function hasTokenizerJson(dir: string): Promise<boolean> {
  for (const name of NAMES) {
    try {
      await access(path.join(dir, name));
      return true;
    } catch {
      // try the next name
    }
  }
  return false;
}

/**
 * The parsed `tokenizer.json` in `dir`, or `tokenizer.json.gz` (Pictor's bundled tokenizers are
 * stored gzipped: a quarter of the bytes in the repository). `what` names the tokenizer in the
 * error when neither file is there, which also says what the user can do.
 */
export async function readTokenizerJson(
  dir: string,
  what: string,
): Promise<{ file: string; json: Record<string, unknown> }> {
  for (const name of NAMES) {
    const file = path.join(dir, name);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new EngineError('MODEL_INVALID', `${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    try {
      const text = name.endsWith('.gz')
        ? gunzipSync(bytes).toString('utf8')
        : bytes.toString('utf8');
      return { file, json: JSON.parse(text) as Record<string, unknown> };
    } catch (error) {
      throw new EngineError(
        'MODEL_INVALID',
        `${file}: not a ${what} tokenizer.json (${(error as Error).message})`,
        { cause: error },
      );
    }
  }
  throw new EngineError(
    'MODEL_INVALID',
    `no ${what} tokenizer in ${dir} (looked for tokenizer.json and tokenizer.json.gz): ${TOKENIZER_FIX}`,
  );
}

/**
 * Where an encoder's tokenizer comes from: the folder a setting names (used as it is, so a wrong
 * one is an error naming it), else the first of the model's own folders (a diffusers folder's
 * `tokenizer_N/`, the one beside a single file) that holds a `tokenizer.json`, else the one
 * Pictor bundles. ComfyUI-style files come without tokenizers: ComfyUI ships its own, so Pictor
 * does too.
 */
export async function resolveTokenizerDir(
  named: string | undefined,
  own: readonly (string | undefined)[],
  bundled: string,
): Promise<string> {
  if (named !== undefined) return named;
  for (const dir of own) {
    if (dir !== undefined && (await hasTokenizerJson(dir))) return dir;
  }
  return bundled;
}
