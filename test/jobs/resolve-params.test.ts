// The job layer checks a request with the engine's own rules (`resolveSettings`/`resolveOutputs`),
// so what it accepts and charges for is what the engine runs, with the engine's defaults: the
// parameters stored with a job equal what the engine resolves for the same model.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  resolveOutputs,
  resolveSettings,
  type RequestRules,
} from '../../src/engine/request/resolve-request.ts';
import { ProblemError } from '../../src/errors/index.ts';
import { resolveParams } from '../../src/jobs/resolve-params.ts';
import { advertisedModel } from '../helpers/advertisements.ts';

const limits = { maxImages: 4, maxPromptLength: 1000 };
const model = advertisedModel('m', true);

test('stored parameters equal what the engine resolves for the same request', () => {
  const requests = [
    { prompt: 'a cat', seed: 3 },
    { prompt: 'a cat', seed: 3, initImage: 'upload-1' },
    { prompt: 'a cat', seed: 3, initImage: 'upload-1', mask: 'upload-2' },
    { prompt: 'a cat', seed: 3, width: 640, steps: 9, scheduler: 'ddim', n: 2, quality: 70 },
  ];
  for (const request of requests) {
    const { params } = resolveParams(request, model, limits);
    const rules: RequestRules = model;
    const settings = resolveSettings(rules, request);
    const outputs = resolveOutputs(rules, request);
    assert.deepEqual(
      [params.width, params.height, params.steps, params.guidanceScale, params.scheduler],
      [settings.width, settings.height, settings.steps, settings.guidanceScale, settings.scheduler],
    );
    assert.equal(params.strength, settings.strength ?? null);
    assert.equal(params.quality, outputs.quality);
    assert.equal(params.seed, outputs.seeds[0]);
  }
});

test('strength defaults as diffusers’: img2img 0.8, inpainting 1, none without an init image', () => {
  const strength = (extra: object) =>
    resolveParams({ prompt: 'a cat', ...extra }, model, limits).params.strength;
  assert.equal(strength({}), null);
  assert.equal(strength({ initImage: 'u' }), 0.8);
  assert.equal(strength({ initImage: 'u', mask: 'v' }), 1);
  assert.equal(strength({ initImage: 'u', mask: 'v', strength: 0.5 }), 0.5);
});

test('what the model cannot do is refused when the job is submitted, naming the field', () => {
  const refuses = (extra: object, on: RequestRules, field: string) =>
    assert.throws(
      () => resolveParams({ prompt: 'a cat', ...extra }, { ...model, ...on }, limits),
      (error: unknown) =>
        error instanceof ProblemError &&
        error.code === 'VALIDATION_FAILED' &&
        error.field === field,
    );
  // Once accepted and charged only to fail in the worker; now refused up front.
  refuses({ safetyFilter: true }, { ...model, hasSafetyChecker: false }, 'safety_filter');
  refuses(
    { negativePrompt: 'blur' },
    { ...model, appliesNegativePrompt: false },
    'negative_prompt',
  );
  refuses({ initImage: 'u' }, { ...model, supportsImg2Img: false }, 'init_image');
  refuses({ mask: 'v' }, model, 'mask');
  refuses({ width: 1030 }, model, 'width');
  refuses({ scheduler: 'flow_euler' }, model, 'scheduler');
  // The server's own policy: images per request and the 32-bit seed.
  refuses({ n: 5 }, model, 'n');
  refuses({ seed: 2 ** 32 }, model, 'seed');
  // The model's batch limit (4 here) below the server's (8).
  assert.throws(
    () => resolveParams({ prompt: 'a cat', n: 5 }, model, { ...limits, maxImages: 8 }),
    (error: unknown) => error instanceof ProblemError && error.field === 'n',
  );
});
