import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProblemError } from '../errors/index.ts';

/** Where a model comes from, parsed from what a user typed (`pictor models pull REF`). */
export type ModelRef =
  | {
      readonly kind: 'huggingface';
      /** `org/repo`. */
      readonly repo: string;
      /** Branch, tag or commit; `main` when not given. */
      readonly revision: string;
      /** A folder (or one file) inside the repo; '' for the whole repo. */
      readonly subpath: string;
    }
  | {
      readonly kind: 'civitai';
      readonly modelId: number | undefined;
      readonly versionId: number | undefined;
    }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'local'; readonly path: string };

const HF_REPO = /^([\w.-]+\/[\w.-]+)(?:@([\w./-]+?))?(?:\/(.+))?$/;

function invalid(ref: string, why: string): ProblemError {
  return new ProblemError('MODEL_SOURCE_INVALID', `'${ref}': ${why}`, { field: 'source' });
}

/** A `..` segment or an absolute path: would leave the folder it is joined to. */
export function escapes(relative: string): boolean {
  return relative.startsWith('/') || relative.split(/[\\/]/).includes('..');
}

function positiveInt(text: string | undefined | null): number | undefined {
  return text !== undefined && text !== null && /^\d+$/.test(text) ? Number(text) : undefined;
}

function civitaiUrl(url: URL, ref: string): ModelRef {
  const version = positiveInt(url.searchParams.get('modelVersionId'));
  const download = /^\/api\/download\/models\/(\d+)/.exec(url.pathname);
  if (download) return { kind: 'civitai', modelId: undefined, versionId: Number(download[1]) };
  const versions = /^\/model-versions\/(\d+)/.exec(url.pathname);
  if (versions) return { kind: 'civitai', modelId: undefined, versionId: Number(versions[1]) };
  const model = /^\/models\/(\d+)/.exec(url.pathname);
  if (model) return { kind: 'civitai', modelId: Number(model[1]), versionId: version };
  throw invalid(ref, 'a civitai.com link must be a /models/ID or a download link');
}

function huggingFace(text: string, ref: string, revision: string | undefined): ModelRef {
  const match = HF_REPO.exec(text);
  if (!match?.[1]) throw invalid(ref, 'expected hf:org/repo[@revision][/subfolder]');
  const parsed = {
    kind: 'huggingface' as const,
    repo: match[1],
    revision: revision ?? match[2] ?? 'main',
    subpath: (match[3] ?? '').replace(/\/+$/, ''),
  };
  // Revisions name files under refs/ in the cache, subpaths folders in it.
  if ([parsed.repo, parsed.revision, parsed.subpath].some(escapes))
    throw invalid(ref, "'..' is not allowed in a repo, revision or subfolder");
  return parsed;
}

/**
 * Parses `hf:org/repo[@rev][/sub]` (or a bare `org/repo` that is not a local path),
 * `civitai:MODEL[@VERSION]` or a civitai.com link, a bare CivitAI id, an `https://` URL, or a
 * local file or folder. `revision` (`--revision`, `--version`) overrides the one in the text.
 */
export function parseModelRef(
  ref: string,
  options: { revision?: string | undefined; cwd?: string } = {},
): ModelRef {
  const text = ref.trim();
  const cwd = options.cwd ?? process.cwd();
  if (text.startsWith('hf:')) return huggingFace(text.slice(3), ref, options.revision);
  if (text.startsWith('civitai:') || /^\d+(@\d+)?$/.test(text)) {
    const [model, version] = text.replace(/^civitai:/, '').split('@');
    const modelId = positiveInt(model);
    if (modelId === undefined) throw invalid(ref, 'expected civitai:MODEL_ID[@VERSION_ID]');
    return {
      kind: 'civitai',
      modelId,
      versionId: positiveInt(options.revision) ?? positiveInt(version),
    };
  }
  if (/^https?:\/\//.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw invalid(ref, 'not a valid URL');
    }
    if (/(^|\.)civitai\.com$/.test(url.hostname)) {
      const parsed = civitaiUrl(url, ref);
      const version = positiveInt(options.revision);
      return parsed.kind === 'civitai' && version !== undefined
        ? { ...parsed, versionId: version }
        : parsed;
    }
    const hf = /^\/([\w.-]+\/[\w.-]+)(?:\/(?:tree|resolve|blob)\/([^/]+)(?:\/(.*))?)?$/.exec(
      url.pathname,
    );
    if (url.hostname === 'huggingface.co' && hf?.[1]) {
      return huggingFace(
        `${hf[1]}${hf[3] ? `/${hf[3]}` : ''}`,
        ref,
        options.revision ?? hf[2] ?? 'main',
      );
    }
    return { kind: 'url', url: text };
  }
  const local = path.resolve(cwd, text.replace(/^~(?=\/|$)/, os.homedir()));
  if (/^[.~/]/.test(text) || existsSync(local)) return { kind: 'local', path: local };
  return huggingFace(text, ref, options.revision);
}

/** The reference as written in sidecars and listings (`hf:org/repo@rev/sub`, `civitai:1@2`). */
export function formatModelRef(ref: ModelRef): string {
  switch (ref.kind) {
    case 'huggingface':
      return `hf:${ref.repo}@${ref.revision}${ref.subpath ? `/${ref.subpath}` : ''}`;
    case 'civitai':
      return `civitai:${ref.modelId ?? '?'}${ref.versionId === undefined ? '' : `@${ref.versionId}`}`;
    case 'url':
      return ref.url;
    case 'local':
      return ref.path;
  }
}
