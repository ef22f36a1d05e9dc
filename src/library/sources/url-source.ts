import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError } from '../../errors/index.ts';
import { modelNameFrom, type ModelSidecar } from '../library-model.ts';
import { writeSidecar } from '../model-folder.ts';
import type { ModelSource, PullPlan, PullRequest } from '../pull-plan.ts';

/** {@link ModelSource} for a direct link to a `.safetensors` file (no published hash). */
export class UrlSource implements ModelSource {
  readonly #libraryDir: string;

  constructor(libraryDir: string) {
    this.#libraryDir = libraryDir;
  }

  plan(request: PullRequest): Promise<PullPlan> {
    if (request.ref.kind !== 'url') throw new Error('UrlSource: not a URL');
    const url = new URL(request.ref.url);
    const file = decodeURIComponent(url.pathname.split('/').pop() ?? '');
    if (/\.(ckpt|pt|pth|bin|pkl)$/i.test(file))
      throw new ProblemError(
        'MODEL_SOURCE_INVALID',
        `${file} is a pickle; Pictor loads only .safetensors`,
        { field: 'source' },
      );
    if (request.name === undefined && !file.endsWith('.safetensors'))
      throw new ProblemError(
        'MODEL_SOURCE_INVALID',
        `name the model (--name, "name") for ${url.host}${url.pathname}`,
        { field: 'name' },
      );
    const name = request.name ?? modelNameFrom(file);
    const libraryDir = this.#libraryDir;
    const sidecar: ModelSidecar = { source: request.ref.url, pulledAt: new Date().toISOString() };
    return Promise.resolve({
      name,
      files: [
        {
          url: request.ref.url,
          dest: path.join(libraryDir, `${name}.safetensors`),
          size: undefined,
          digest: undefined,
          headers: {},
          label: file || url.pathname,
          host: url.host,
          authHint:
            'the server wants a login this link does not carry; use a link that works in a private browser window',
          expectedBytes: undefined,
        },
      ],
      async commit() {
        await mkdir(libraryDir, { recursive: true });
        await writeSidecar(libraryDir, name, sidecar);
      },
    });
  }
}
