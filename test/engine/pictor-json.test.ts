// A model folder's `pictor.json` (per-model defaults, limits, step-preview projection) is read by
// every folder format through one code path: here a diffusers `.safetensors` FLUX folder (the
// tiny schnell fixture with a pictor.json of its own), as `pipeline.test.ts` checks it for an
// ONNX folder — what the server describes before loading, what the loaded pipeline runs, and a
// wrong value refused naming the file and the key.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { describeCheckpoint } from '../../src/engine/model/describe-checkpoint.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import { loadPipeline, type LoadPipelineOptions } from '../../src/engine/pipeline/load-pipeline.ts';
import { CHECKPOINTS } from '../helpers/checkpoint-graphs.ts';

const PLAIN = path.join(CHECKPOINTS, 'tiny-flux-schnell');
const CONFIGURED = path.join(CHECKPOINTS, 'tiny-flux-schnell-pictor-json');
// The tiny CLIP's 8-wide heads, which its weights cannot say (as in flux-run.test.ts).
const tiny: LoadPipelineOptions = { intraOpThreads: 1, checkpoint: { textHeadDims: [8] } };
const scratch = mkdtempSync(path.join(tmpdir(), 'pictor-json-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('a diffusers FLUX folder’s pictor.json sets the defaults and limits the server describes', async () => {
  const plain = (await describeCheckpoint(PLAIN))?.manifest;
  const configured = (await describeCheckpoint(CONFIGURED))?.manifest;
  assert.ok(plain && configured);
  // What the files alone say (FLUX.1-schnell's release), so the fixture's values differ.
  assert.deepEqual(plain.defaults, { width: 1024, height: 1024, steps: 4, guidanceScale: 0 });
  assert.equal(plain.limits.maxSteps, 150);
  assert.deepEqual(configured.defaults, { width: 48, height: 32, steps: 2, guidanceScale: 0 });
  assert.deepEqual(configured.limits, {
    minSize: plain.limits.minSize,
    maxSize: 256,
    sizeMultiple: plain.limits.sizeMultiple,
    maxSteps: 6,
    maxBatch: 2,
  });
  assert.equal(configured.defaultScheduler, 'flow_euler');
  // The user's overrides still win over the folder's file.
  const overridden = (await describeCheckpoint(CONFIGURED, { steps: 3 }))?.manifest;
  assert.equal(overridden?.defaults.steps, 3);
});

test('the loaded FLUX pipeline runs with them: default size and steps, the step limit, the preview', async () => {
  const pipeline = await loadPipeline(CONFIGURED, tiny);
  try {
    await assert.rejects(
      pipeline.generate({ prompt: 'x', steps: 7 }),
      /steps must be an integer from 1 to 6/,
    );
    const previews: Uint8Array[] = [];
    const result = await pipeline.generate(
      { prompt: 'a red circle', seed: 1 },
      {
        preview: true,
        onProgress: (event) => previews.push(event.preview?.rgb[0] ?? new Uint8Array()),
      },
    );
    const image = result.images[0];
    assert.ok(image);
    assert.deepEqual([image.width, image.height], [48, 32]);
    assert.match(image.infotext, /Steps: 2,/);
    assert.equal(previews.length, 2);
    // All-zero factors: every preview pixel is the bias, [1, -1, 0] → (255, 0, 128).
    const [r, g, b] = previews[0] ?? [];
    assert.deepEqual([r, g, b], [255, 0, 128]);
  } finally {
    await pipeline.dispose();
  }
});

/** The fixture's components beside another `pictor.json`. */
function folderWith(name: string, pictorJson: unknown): string {
  const dir = path.join(scratch, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const entry of readdirSync(PLAIN))
    symlinkSync(path.join(PLAIN, entry), path.join(dir, entry));
  writeFileSync(path.join(dir, 'pictor.json'), JSON.stringify(pictorJson));
  return dir;
}

test('a wrong value in a FLUX folder’s pictor.json is refused naming the file and the key', async () => {
  const cases: [unknown, RegExp][] = [
    [{ defaults: { steps: 0 } }, /defaults\.steps must be a positive integer/],
    [{ defaults: { width: 40 } }, /defaults\.width 40 is not a multiple of 16/],
    [{ defaults: { scheduler: 'ddim' } }, /defaults\.scheduler "ddim" is not one of flow_euler/],
    [{ limits: { maxSteps: '6' } }, /limits\.maxSteps must be a positive integer/],
    [{ latentRgbFactors: [[0, 0, 0]] }, /latentRgbFactors must be 16 \[r, g, b\] rows/],
  ];
  for (const [index, [json, problem]] of cases.entries()) {
    const dir = folderWith(`wrong-${index}`, json);
    for (const attempt of [() => describeCheckpoint(dir), () => loadPipeline(dir, tiny)]) {
      await assert.rejects(attempt(), (error: unknown) => {
        assert.ok(error instanceof EngineError);
        assert.equal(error.code, 'MODEL_INVALID');
        assert.ok(error.message.startsWith(`${path.join(dir, 'pictor.json')}: `), error.message);
        assert.match(error.message, problem);
        return true;
      });
    }
  }
});
