import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { singleFileComponents } from '../../src/engine/checkpoint/checkpoint-components.ts';
import type { CheckpointSource } from '../../src/engine/checkpoint/checkpoint-source.ts';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import { loadCheckpointPipeline } from '../../src/engine/pipeline/load-checkpoint.ts';
import { loadPipeline } from '../../src/engine/pipeline/load-pipeline.ts';
import { BUNDLED_CLIP_TOKENIZER_DIR } from '../../src/engine/text/bundled-tokenizers.ts';
import type { WeightQuantization } from '../../src/engine/types.ts';
import { CHECKPOINTS } from '../helpers/checkpoint-graphs.ts';

// The tiny SD 1.x checkpoint through the whole pipeline with quantized weights: the derived
// files land in the cache dir once and are reused by the next load.
const FILE = path.join(CHECKPOINTS, 'tiny-sd1.safetensors');
let dir: string;
let tokenizerDir: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-quant-pipeline-'));
  // The fixture's 1024-token vocabulary: the first 510 CLIP merges (as checkpoint-run.test.ts).
  tokenizerDir = path.join(dir, 'tokenizer');
  const merges = (await readFile(path.join(BUNDLED_CLIP_TOKENIZER_DIR, 'merges.txt'), 'utf8'))
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#'));
  await mkdir(tokenizerDir);
  await writeFile(path.join(tokenizerDir, 'merges.txt'), merges.slice(0, 510).join('\n') + '\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function source(): Promise<CheckpointSource> {
  const read = await readSafetensors(FILE);
  const layout = {
    family: 'sd1',
    predictionType: 'epsilon',
    unetInChannels: 4,
    textEncoders: ['clip-l'],
    hasVae: true,
  } as const;
  return {
    layout,
    components: singleFileComponents(read.index, layout),
    files: new Map([[read.file, read.identity]]),
  };
}

async function generate(quantization: WeightQuantization, cacheDir: string): Promise<Uint8Array> {
  const pipeline = await loadCheckpointPipeline(FILE, await source(), {
    intraOpThreads: 1,
    quantization,
    cacheDir,
    checkpoint: { tokenizerDir, textHeadDims: [8] },
  });
  try {
    const result = await pipeline.generate({
      prompt: 'a red circle',
      seed: 42,
      steps: 2,
      width: 64,
      height: 64,
    });
    const image = result.images[0];
    assert.ok(image);
    return image.data;
  } finally {
    await pipeline.dispose();
  }
}

test('int8 and int4 checkpoints generate; the derived files are made once and reused on the next load', async () => {
  const cacheDir = path.join(dir, 'cache');
  const fp32 = await generate('none', cacheDir);
  await assert.rejects(readdir(path.join(cacheDir, 'quantized')), 'none derives nothing');
  for (const quantization of ['int8', 'int4'] as const) {
    const first = await generate(quantization, cacheDir);
    const files = (await readdir(path.join(cacheDir, 'quantized'))).filter((f) =>
      f.includes(quantization),
    );
    // The UNet and the text encoder; the VAE stays in float.
    assert.deepEqual(
      files.map((f) => f.split('-')[0]).sort(),
      ['text_encoder', 'unet'],
      files.join(),
    );
    const mtimes = await Promise.all(
      files.map(async (f) => (await stat(path.join(cacheDir, 'quantized', f))).mtimeMs),
    );
    const second = await generate(quantization, cacheDir);
    const again = await Promise.all(
      files.map(async (f) => (await stat(path.join(cacheDir, 'quantized', f))).mtimeMs),
    );
    assert.deepEqual(again, mtimes, 'the second load did not rewrite the derived files');
    assert.deepEqual(second, first, 'same weights, same image');
    assert.notDeepEqual(first, fp32, 'quantized weights change the image a little');
  }
});

test('a checkpoint over the memory budget is refused naming the numbers and what would fit', async () => {
  await assert.rejects(
    loadCheckpointPipeline(FILE, await source(), {
      quantization: 'int8',
      memoryBudgetBytes: 1024 ** 2,
      cacheDir: path.join(dir, 'cache'),
    }),
    (error: unknown) => {
      assert.ok(error instanceof EngineError);
      assert.equal(error.code, 'MODEL_TOO_LARGE');
      assert.match(
        error.message,
        /model 'tiny-sd1' needs about \d+\.\d GB with quantization int8 \(weights .* \+ working memory .* at 512×512\), more than workers\.memoryBudgetGb \(0\.0 GB\); no quantization fits/,
      );
      return true;
    },
  );
});

test('quantization on an ONNX folder is refused: its graphs run as exported', async () => {
  const folder = path.resolve(import.meta.dirname, '../../models/tiny');
  await assert.rejects(loadPipeline(folder, { quantization: 'int4' }), (error: unknown) => {
    assert.ok(error instanceof EngineError);
    assert.equal(error.code, 'MODEL_UNSUPPORTED');
    assert.match(error.message, /quantization 'int4' applies to \.safetensors checkpoints/);
    return true;
  });
});
