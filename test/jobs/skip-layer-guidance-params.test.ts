// skip_layer_guidance at the job layer: accepted for an SD 3.x model and kept in the job's
// parameters, refused naming the field for any other family, and part of the batch key so jobs
// with and without it never share an engine batch (the engine requires one setting per batch).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProblemError } from '../../src/errors/index.ts';
import { batchKeyOf } from '../../src/jobs/job.ts';
import { resolveParams } from '../../src/jobs/resolve-params.ts';
import { advertisedModel } from '../helpers/advertisements.ts';

const limits = { maxImages: 4, maxPromptLength: 1000 };
const sd3 = advertisedModel('sd35', true, {
  family: 'sd3',
  schedulers: ['flow_euler'],
  defaultScheduler: 'flow_euler',
  supportsSkipLayerGuidance: true,
});
const skipLayerGuidance = { layers: [7, 8, 9], scale: 3 };

test('an SD 3.x model takes skip_layer_guidance and keeps it with the job', () => {
  const { params } = resolveParams({ prompt: 'a cat', seed: 1, skipLayerGuidance }, sd3, limits);
  assert.deepEqual(params.skipLayerGuidance, skipLayerGuidance);
  const { params: plain } = resolveParams({ prompt: 'a cat', seed: 1 }, sd3, limits);
  assert.equal(plain.skipLayerGuidance, undefined);
  assert.notEqual(batchKeyOf('sd35', params), batchKeyOf('sd35', plain));
  const other = resolveParams({ prompt: 'a dog', seed: 2, skipLayerGuidance }, sd3, limits);
  assert.equal(batchKeyOf('sd35', other.params), batchKeyOf('sd35', params));
});

test('another family refuses skip_layer_guidance, naming the field', () => {
  for (const family of ['sd15', 'flux']) {
    assert.throws(
      () =>
        resolveParams(
          { prompt: 'a cat', skipLayerGuidance },
          advertisedModel('m', true, { family }),
          limits,
        ),
      (error: unknown) =>
        error instanceof ProblemError &&
        error.field === 'skip_layer_guidance' &&
        /applies to SD 3\.x/.test(error.message),
    );
  }
});
