import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAMILIES } from '../../src/engine/families/families.ts';
import type { RunOutputs } from '../../src/engine/onnx/onnx-model.ts';

const tensor = (value: number, dims: number[]) =>
  ({
    data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value),
    dims,
  }) as RunOutputs[string];

test('SD conditions on the last hidden state, SDXL on the penultimate plus the pooled projection', () => {
  const outputs: RunOutputs = {
    last_hidden_state: tensor(1, [1, 77, 8]),
    'hidden_states.0': tensor(10, [1, 77, 8]),
    'hidden_states.1': tensor(11, [1, 77, 8]),
    'hidden_states.2': tensor(12, [1, 77, 8]),
    text_embeds: tensor(5, [1, 4]),
  };
  const sd = FAMILIES.sd.selectEncoderOutputs(outputs, 'text_encoder');
  assert.equal(sd.hidden?.[0], 1);
  assert.equal(sd.pooledSize, 0);
  const sdxl = FAMILIES.sdxl.selectEncoderOutputs(outputs, 'text_encoder_2');
  assert.equal(sdxl.hidden?.[0], 11);
  assert.equal(sdxl.pooledSize, 4);
  assert.throws(
    () => FAMILIES.sdxl.selectEncoderOutputs({ last_hidden_state: tensor(1, [1, 77, 8]) }, 'te'),
    /te must output hidden_states\.0 … hidden_states\.N for SDXL/,
  );
});

test('only SDXL adds size conditioning and zeroes empty negative prompts', () => {
  assert.equal(FAMILIES.sd.timeIds, undefined);
  assert.equal(FAMILIES.sd.zeroEmptyNegativePrompt, false);
  assert.deepEqual(
    [...(FAMILIES.sdxl.timeIds?.(2, 768, 1024) ?? [])],
    [768, 1024, 0, 0, 768, 1024, 768, 1024, 0, 0, 768, 1024],
  );
  assert.equal(FAMILIES.sdxl.zeroEmptyNegativePrompt, true);
  assert.equal(FAMILIES.sd.latentFormat.scalingFactor, 0.18215);
  assert.equal(FAMILIES.sdxl.latentFormat.scalingFactor, 0.13025);
});
