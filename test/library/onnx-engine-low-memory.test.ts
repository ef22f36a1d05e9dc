// The worker's engine sizes a checkpoint by its memory mode: a budget between the low-memory need
// and the default need refuses the model in the default mode, saying low-memory mode would fit,
// and serves it with `lowMemory` — the same image either way. Real ONNX engine, real checkpoint.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { estimateModelMemory } from '../../src/engine/index.ts';
import type { BatchJob } from '../../src/jobs/inference-workers.ts';
import { OnnxEngine } from '../../src/workers/engines/onnx-engine.ts';
import type { WorkerModel } from '../../src/workers/engines/model-cache.ts';

const CHECKPOINT = path.resolve(
  import.meta.dirname,
  '../../models/tiny-sd1-ckpt/tiny-sd1-ckpt.safetensors',
);
let cacheDir: string;
let budgetBytes: number;

before(async () => {
  cacheDir = await mkdtemp(path.join(tmpdir(), 'pictor-engine-low-memory-'));
  const estimate = await estimateModelMemory(CHECKPOINT);
  assert.ok(estimate);
  const { lowMemoryBytes, totalBytes } = estimate.byQuantization.none;
  assert.ok(lowMemoryBytes < totalBytes);
  budgetBytes = Math.floor((lowMemoryBytes + totalBytes) / 2);
});
after(() => rm(cacheDir, { recursive: true, force: true }));

const job: BatchJob = {
  jobId: 'j1',
  params: {
    prompt: 'a red circle',
    negativePrompt: '',
    width: 64,
    height: 64,
    steps: 2,
    guidanceScale: 7.5,
    scheduler: 'euler',
    seed: 3,
    n: 1,
    outputFormat: 'png',
    quality: 90,
    initImage: null,
    mask: null,
    strength: null,
    safetyFilter: false,
    preview: false,
    warnings: [],
  },
  initImage: undefined,
  mask: undefined,
};

async function generate(model: WorkerModel, budget: number) {
  const engine = new OnnxEngine({
    provider: 'cpu',
    threads: 1,
    budgetBytes: budget,
    cacheDir,
    cacheOptimizedModels: true,
    onChange: () => undefined,
  });
  try {
    await engine.setModels([model]);
    return await engine.run(model.name, [job], () => undefined, new AbortController().signal);
  } finally {
    await engine.dispose();
  }
}

const model = (lowMemory: boolean): WorkerModel => ({
  name: 'ckpt',
  path: CHECKPOINT,
  sizeBytes: 0,
  family: undefined,
  keepAliveSeconds: -1,
  lowMemory,
});

test('over the budget by default, within it in low-memory mode: refused saying so, then served', async () => {
  const refused = await generate(model(false), budgetBytes);
  assert.equal(refused.ok, false);
  assert.match(
    refused.ok ? '' : refused.message,
    /needs about .* with quantization none \(weights .*\), more than workers\.memoryBudgetGb .*; lowMemory: true would fit with quantization none/,
  );

  const lean = await generate(model(true), budgetBytes);
  assert.ok(lean.ok, lean.ok ? '' : lean.message);
  const roomy = await generate(model(false), Number.MAX_SAFE_INTEGER);
  assert.ok(roomy.ok);
  assert.ok(
    Buffer.from(lean.images[0]!.data).equals(Buffer.from(roomy.images[0]!.data)),
    'the same image in both modes',
  );
});
