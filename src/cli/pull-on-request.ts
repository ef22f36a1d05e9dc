import {
  isPullableReference,
  type ModelPuller,
  type ModelPullProgress,
} from '../jobs/model-puller.ts';
import type { ModelLibrary } from '../library/model-library.ts';
import type { ChildProcessWorkers } from '../workers/child-process-workers.ts';

/** Resolves once the workers list `name` (they learn of a new model over IPC, after the scan). */
function served(workers: ChildProcessWorkers, name: string): Promise<void> {
  const listed = (): boolean => workers.models().some((m) => m.name === name);
  if (listed()) return Promise.resolve();
  return new Promise((resolve) => {
    const stop = workers.onModels(() => {
      if (!listed()) return;
      stop();
      resolve();
    });
  });
}

/**
 * {@link ModelPuller} on the model library (`models.pullOnRequest`): Hugging Face and CivitAI
 * references only — never URLs or local paths, which a generation request must not reach.
 */
export function libraryPuller(library: ModelLibrary, workers: ChildProcessWorkers): ModelPuller {
  return {
    pullable: isPullableReference,
    async pull(name, onProgress) {
      const pull = library.pull(/^(hf|civitai):/.test(name) ? name : `hf:${name}`);
      const stop = pull.subscribe((event) => {
        if (event.status === 'success' || event.status === 'error') return;
        const { completed, total } = pull.view();
        const progress: ModelPullProgress = {
          status: event.status,
          completed,
          total: total > 0 ? total : undefined,
        };
        onProgress(progress);
      });
      try {
        const model = await pull.done;
        await served(workers, model);
        return model;
      } finally {
        stop();
      }
    },
  };
}
