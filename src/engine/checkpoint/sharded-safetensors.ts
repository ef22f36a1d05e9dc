import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../engine-error.ts';
import type { FileIdentity } from './file-identity.ts';
import { mergeIndexes } from './index-views.ts';
import { readSafetensors } from './read-safetensors.ts';
import type { TensorIndex } from './tensor-ref.ts';

/** One component's weights, from one file or several shards. */
export interface WeightFiles {
  readonly index: TensorIndex;
  /** Every file the index points into, with its identity when read (checked before use). */
  readonly files: ReadonlyMap<string, FileIdentity>;
}

/** Reads a single `.safetensors` file, or every shard a `*.safetensors.index.json` lists. */
export async function readWeightFiles(file: string): Promise<WeightFiles> {
  if (!file.endsWith('.index.json')) {
    const read = await readSafetensors(file);
    return { index: read.index, files: new Map([[read.file, read.identity]]) };
  }
  const weightMap = await readWeightMap(file);
  const shardNames = [...new Set(weightMap.values())];
  const shards = await Promise.all(
    shardNames.map((shard) => readSafetensors(path.join(path.dirname(file), shard))),
  );
  for (const [name, shardName] of weightMap) {
    const shard = shards[shardNames.indexOf(shardName)];
    if (!shard?.index.has(name)) {
      throw new EngineError(
        'MODEL_INVALID',
        `${file} places tensor "${name}" in ${shardName}, which does not hold it`,
      );
    }
  }
  return {
    index: mergeIndexes(shards.map((shard) => shard.index)),
    files: new Map(shards.map((shard) => [shard.file, shard.identity])),
  };
}

async function readWeightMap(file: string): Promise<Map<string, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new EngineError('MODEL_INVALID', `${file} cannot be read as JSON`, { cause: error });
  }
  const weightMap = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new EngineError('MODEL_INVALID', `${file} has no "weight_map" object`);
  }
  const entries = Object.entries(weightMap);
  const bad = entries.find(
    ([, shard]) => typeof shard !== 'string' || shard.includes('/') || shard.includes('\\'),
  );
  if (bad) {
    throw new EngineError(
      'MODEL_INVALID',
      `${file} maps "${bad[0]}" to ${JSON.stringify(bad[1])}, not a shard file beside it`,
    );
  }
  return new Map(entries as [string, string][]);
}
