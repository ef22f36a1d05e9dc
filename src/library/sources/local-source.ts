import { mkdir, rm, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError } from '../../errors/index.ts';
import { modelNameFrom, type ModelSidecar } from '../library-model.ts';
import { folderFormat, writeSidecar } from '../model-folder.ts';
import type { ModelSource, PullPlan, PullRequest } from '../pull-plan.ts';

/** {@link ModelSource} for a file or folder already on disk: linked into the library, not copied. */
export class LocalSource implements ModelSource {
  readonly #libraryDir: string;

  constructor(libraryDir: string) {
    this.#libraryDir = libraryDir;
  }

  async plan(request: PullRequest): Promise<PullPlan> {
    if (request.ref.kind !== 'local') throw new Error('LocalSource: not a path');
    const target = request.ref.path;
    const info = await stat(target).catch(() => undefined);
    if (!info) throw new ProblemError('MODEL_SOURCE_NOT_FOUND', `${target} does not exist`);
    const isFile = !info.isDirectory();
    if (isFile && !target.endsWith('.safetensors'))
      throw new ProblemError(
        'MODEL_SOURCE_INVALID',
        `${target}: only .safetensors files (pickles are never loaded)`,
        { field: 'source' },
      );
    if (!isFile && (await folderFormat(target)) === undefined)
      throw new ProblemError(
        'MODEL_SOURCE_INVALID',
        `${target} has no model_index.json: not a diffusers folder`,
        { field: 'source' },
      );
    const name = request.name ?? modelNameFrom(path.basename(target));
    const libraryDir = this.#libraryDir;
    return {
      name,
      files: [],
      async commit() {
        await mkdir(libraryDir, { recursive: true });
        const link = path.join(libraryDir, isFile ? `${name}.safetensors` : name);
        if (path.resolve(link) === path.resolve(target)) return;
        const sidecar: ModelSidecar = { source: target };
        await writeSidecar(libraryDir, name, sidecar);
        await rm(link, { force: true });
        await symlink(target, link);
      },
    };
  }
}
