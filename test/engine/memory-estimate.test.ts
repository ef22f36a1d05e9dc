import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { EngineError } from '../../src/engine/engine-error.ts';
import { estimateModelMemory } from '../../src/engine/memory/estimate-model-memory.ts';
import { assertFitsMemoryBudget } from '../../src/engine/memory/memory-budget.ts';
import { isQuantizableWeight } from '../../src/engine/memory/weight-memory.ts';
import type { MemoryEstimate } from '../../src/engine/types.ts';
import { realCheckpointTensors } from '../helpers/checkpoint-headers.ts';
import { writeSafetensors } from '../helpers/safetensors-files.ts';

// Estimates from the headers of the real SD 1.5 and SDXL base (sparse files: real names and
// shapes, no weights).
const GB = 1024 ** 3;
let dir: string;
const estimates = new Map<string, MemoryEstimate>();

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-memory-'));
  for (const name of ['sd15', 'sdxl-base']) {
    const file = path.join(dir, `${name}.safetensors`);
    await writeSafetensors(file, realCheckpointTensors(name), { sparse: true });
    const estimate = await estimateModelMemory(file);
    assert.ok(estimate);
    estimates.set(name, estimate);
  }
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The components' parameters (the LDM files also hold the noise schedule's buffers). */
const COMPONENT = /^(model\.diffusion_model|first_stage_model|cond_stage_model|conditioner)\./;

function parameters(name: string): number {
  return realCheckpointTensors(name)
    .filter((t) => COMPONENT.test(t.name))
    .reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
}

test('fp32 weights are 4 bytes per parameter; int8 and int4 shrink only the linear layers', () => {
  for (const [name, family] of [
    ['sd15', 'sd'],
    ['sdxl-base', 'sdxl'],
  ] as const) {
    const estimate = estimates.get(name);
    assert.ok(estimate);
    assert.equal(estimate.family, family);
    const { none, int8, int4 } = estimate.byQuantization;
    assert.equal(none.weightBytes, parameters(name) * 4, `${name}: every parameter as float32`);
    assert.ok(none.weightBytes > int8.weightBytes && int8.weightBytes > int4.weightBytes);
    // Convolutions stay float: the savings are bounded by the linear layers' share.
    const linear = realCheckpointTensors(name)
      .filter(
        (t) => !t.name.startsWith('first_stage_model.') && isQuantizableWeight(t.name, t.shape),
      )
      .reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
    assert.ok(Math.abs(none.weightBytes - int8.weightBytes - linear * (4 - 1 - 5 / 32)) < 1e6);
    assert.ok(Math.abs(none.weightBytes - int4.weightBytes - linear * (4 - 0.5 - 4.5 / 32)) < 1e6);
    for (const need of [none, int8, int4]) {
      assert.equal(
        need.totalBytes,
        need.weightBytes + Math.max(need.activationBytes, need.coldStartBytes),
      );
    }
  }
  const sd15 = estimates.get('sd15');
  const sdxl = estimates.get('sdxl-base');
  assert.ok(sd15 && sdxl);
  assert.deepEqual([sd15.width, sdxl.width], [512, 1024], 'estimated at the native size');
  assert.ok(sdxl.byQuantization.none.weightBytes > 3 * sd15.byQuantization.none.weightBytes);
  assert.ok(sdxl.byQuantization.none.activationBytes > sd15.byQuantization.none.activationBytes);
});

test('weights folded before ONNX Runtime sees them (the cache on) add nothing to a start', () => {
  // The float16 SDXL UNet's first start used to pass 19 GB in low-memory mode at 512² (ORT held
  // its folded copies twice while saving); prefolded, the float16 SD 1.5 UNet's first start
  // peaked at its float32 weights plus 0.2 GB (docs/benchmarks.md).
  for (const estimate of estimates.values()) {
    for (const need of Object.values(estimate.byQuantization)) {
      assert.equal(need.coldStartBytes, 0);
      assert.equal(need.totalBytes, need.weightBytes + need.activationBytes);
    }
  }
});

test('with no optimized model saved, ORT’s own folding of 16-bit linear weights is counted', async () => {
  const folding = async (name: string): Promise<MemoryEstimate> => {
    const estimate = await estimateModelMemory(path.join(dir, `${name}.safetensors`), {
      coldStartFoldsInOrt: true,
    });
    assert.ok(estimate);
    return estimate;
  };
  // SD 1.5's file is float32: a Transpose of a float32 weight folds without an extra copy.
  for (const need of Object.values((await folding('sd15')).byQuantization)) {
    assert.equal(need.coldStartBytes, 0);
  }
  // SDXL base is float16: Transpose(Cast(W)) holds the Cast's float32 copy of each linear
  // weight until the Transpose's is made; the UNet is the largest.
  const unetLinear = realCheckpointTensors('sdxl-base')
    .filter((t) => t.name.startsWith('model.diffusion_model.'))
    .filter((t) => isQuantizableWeight(t.name, t.shape))
    .reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1) * 4, 0);
  const { none, int8, int4 } = (await folding('sdxl-base')).byQuantization;
  assert.equal(none.coldStartBytes, unetLinear);
  assert.ok(none.coldStartBytes > none.activationBytes);
  assert.equal(none.totalBytes, none.weightBytes + none.coldStartBytes);
  // Quantized linear layers come from their own file; a Cast alone folds without a copy.
  assert.equal(int8.coldStartBytes, 0);
  assert.equal(int4.coldStartBytes, 0);
});

test('embeddings and norms are never counted as quantizable', () => {
  assert.equal(
    isQuantizableWeight('text_model.embeddings.token_embedding.weight', [49408, 768]),
    false,
  );
  assert.equal(isQuantizableWeight('encoder.embed_tokens.weight', [32128, 4096]), false);
  assert.equal(isQuantizableWeight('shared.weight', [32128, 4096]), false);
  assert.equal(isQuantizableWeight('norm.weight', [768]), false);
  assert.equal(isQuantizableWeight('conv.weight', [320, 320, 3, 3]), false);
  assert.equal(isQuantizableWeight('attn.to_q.weight', [320, 320]), true);
  assert.equal(isQuantizableWeight('time_embed.0.weight', [1280, 320]), true);
});

test('over the budget: refused naming the need, the budget and the quantization that fits', async () => {
  // With the cache off, so the refusal also names ORT's folding copies.
  const estimate = await estimateModelMemory(path.join(dir, 'sdxl-base.safetensors'), {
    coldStartFoldsInOrt: true,
  });
  assert.ok(estimate);
  const { none, int8, int4 } = estimate.byQuantization;
  assert.doesNotThrow(() => assertFitsMemoryBudget('xl', estimate, 'none', none.totalBytes));
  const refusal = (quantization: 'none' | 'int8', budget: number, pattern: RegExp): void => {
    assert.throws(
      () => assertFitsMemoryBudget('xl', estimate, quantization, budget),
      (error: unknown) => {
        assert.ok(error instanceof EngineError);
        assert.equal(error.code, 'MODEL_TOO_LARGE');
        assert.match(error.message, pattern);
        return true;
      },
    );
  };
  const gb = (bytes: number): string => (bytes / GB).toFixed(1).replace('.', '\\.');
  refusal(
    'none',
    (none.totalBytes + int8.totalBytes) / 2,
    new RegExp(
      `model 'xl' needs about ${gb(none.totalBytes)} GB with quantization none \\(weights ${gb(none.weightBytes)} GB \\+ working memory ${gb(none.activationBytes)} GB at 1024×1024; each start holds ${gb(none.coldStartBytes)} GB more while ONNX Runtime folds its 16-bit weights \\(cacheOptimizedModels is off\\)\\), more than workers\\.memoryBudgetGb \\(.* GB\\); quantization: int8 would fit \\(about ${gb(int8.totalBytes)} GB\\)`,
    ),
  );
  refusal('none', (int8.totalBytes + int4.totalBytes) / 2, /quantization: int4 would fit/);
  refusal('int8', int4.totalBytes - 1, /no quantization fits: int4 still needs about/);
});

test('low-memory mode needs the largest component at a time, and the refusal says when it fits', () => {
  const estimate = estimates.get('sdxl-base');
  assert.ok(estimate);
  const { none } = estimate.byQuantization;
  // SDXL's UNet (2.6 B parameters) outweighs its text encoders and VAE: it plus the working memory.
  const unet = realCheckpointTensors('sdxl-base')
    .filter((t) => t.name.startsWith('model.diffusion_model.'))
    .reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1) * 4, 0);
  assert.equal(none.lowMemoryBytes, unet + Math.max(none.activationBytes, none.coldStartBytes));
  assert.ok(none.lowMemoryBytes < none.totalBytes);
  const budget = (none.lowMemoryBytes + none.totalBytes) / 2;
  assert.doesNotThrow(() => assertFitsMemoryBudget('xl', estimate, 'none', budget, true));
  assert.throws(
    () => assertFitsMemoryBudget('xl', estimate, 'none', budget),
    /; lowMemory: true would fit with quantization none \(about \d+\.\d GB\)/,
  );
  assert.throws(
    () => assertFitsMemoryBudget('xl', estimate, 'int4', 1, true),
    /needs about \d+\.\d GB with quantization int4 in low-memory mode .* no quantization fits/,
  );
});
