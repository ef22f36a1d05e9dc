import type { ModelInfo } from './inference-workers.ts';

/**
 * The model a request's name means: the one of that name, else the one that has it as an alias.
 * Every dialect looks models up through this, so an alias works wherever a name does; jobs
 * record the model's own name.
 */
export function findModel(models: readonly ModelInfo[], name: string): ModelInfo | undefined {
  return (
    models.find((m) => m.name === name) ?? models.find((m) => m.aliases?.includes(name) === true)
  );
}
