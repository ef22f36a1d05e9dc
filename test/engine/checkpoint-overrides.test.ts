import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadPipeline } from '../../src/engine/index.ts';
import { applyModelOverrides } from '../../src/engine/model/apply-model-overrides.ts';
import { readModelManifest } from '../../src/engine/model/model-manifest.ts';
import type { SchedulerName } from '../../src/engine/schedulers/scheduler.ts';

test('overrides replace the defaults, scheduler and prediction type the files say', async () => {
  const manifest = await readModelManifest('models/tiny');
  const overridden = applyModelOverrides(manifest, {
    predictionType: 'v_prediction',
    scheduler: 'ddim',
    width: 128,
    steps: 7,
    guidanceScale: 3,
  });
  assert.equal(overridden.schedulerConfig.prediction_type, 'v_prediction');
  assert.equal(overridden.defaultScheduler, 'ddim');
  assert.deepEqual(overridden.defaults, {
    width: 128,
    height: manifest.defaults.height,
    steps: 7,
    guidanceScale: 3,
  });
  assert.equal(applyModelOverrides(manifest, undefined), manifest);
  assert.deepEqual(applyModelOverrides(manifest, {}).defaults, manifest.defaults);
});

test('an override the model cannot honour fails naming the setting', async () => {
  const manifest = await readModelManifest('models/tiny');
  assert.throws(
    () => applyModelOverrides(manifest, { scheduler: 'heun' as SchedulerName }),
    /scheduler override 'heun' is not one of euler/,
  );
  assert.throws(
    () => applyModelOverrides(manifest, { width: manifest.limits.sizeMultiple + 1 }),
    /width override \d+ is not a multiple of/,
  );
});

test('loadPipeline applies the overrides it is given', async () => {
  const pipeline = await loadPipeline('models/tiny', { overrides: { steps: 5, scheduler: 'lms' } });
  try {
    assert.equal(pipeline.manifest.defaults.steps, 5);
    assert.equal(pipeline.manifest.defaultScheduler, 'lms');
  } finally {
    await pipeline.dispose();
  }
});
