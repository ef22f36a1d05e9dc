import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EncoderContribution } from '../../src/engine/families/family-parts.ts';
import { SD3_FAMILY } from '../../src/engine/families/sd3-family.ts';
import type { RunOutputs } from '../../src/engine/onnx/onnx-model.ts';

/** `count` prompts of `tokens` tokens `width` wide; value = 1000·prompt + 10·token + feature … */
function states(count: number, tokens: number, width: number, base: number): EncoderContribution {
  const hidden = new Float32Array(count * tokens * width);
  for (let i = 0; i < hidden.length; i++) {
    const item = Math.floor(i / (tokens * width));
    const token = Math.floor(i / width) % tokens;
    hidden[i] = base + 1000 * item + 10 * token + (i % width) / 100;
  }
  return { hidden, dims: [count, tokens, width], pooledSize: 0 };
}

const pooled = (part: EncoderContribution, size: number, value: number): EncoderContribution => ({
  ...part,
  pooled: new Float32Array(2 * size).map((_, i) => value + Math.floor(i / size)),
  pooledSize: size,
});

test('SD3 joins CLIP-L ‖ CLIP-G (zero-padded to T5 width), then T5 along the sequence; pooled L ‖ G', () => {
  const clipL = pooled(states(2, 3, 2, 10000), 2, 7);
  const clipG = pooled(states(2, 3, 3, 20000), 3, 9);
  const t5 = states(2, 4, 8, 30000);
  const joined = SD3_FAMILY.combineText?.([clipL, clipG, t5], 2, { tokenWidth: 8 });
  assert.ok(joined);
  assert.deepEqual([joined.sequenceLength, joined.hiddenSize, joined.pooledSize], [7, 8, 5]);
  const row = (item: number, token: number): number[] =>
    [...joined.hiddenStates.subarray((item * 7 + token) * 8, (item * 7 + token + 1) * 8)].map(
      (value) => Math.round(value * 100) / 100,
    );
  // Prompt 1, CLIP token 2: L's two features, G's three, three zeros.
  assert.deepEqual(row(1, 2), [11020, 11020.01, 21020, 21020.01, 21020.02, 0, 0, 0]);
  // Prompt 1, T5 token 0 follows the 3 CLIP tokens.
  assert.deepEqual(row(1, 3).slice(0, 2), [31000, 31000.01]);
  assert.deepEqual([...(joined.pooled ?? [])], [7, 7, 9, 9, 9, 8, 8, 10, 10, 10]);
});

test('without T5, SD3 conditions on 77 zero tokens in its place (as diffusers does)', () => {
  const clipL = pooled(states(2, 3, 2, 1), 2, 7);
  const clipG = pooled(states(2, 3, 3, 2), 3, 9);
  const joined = SD3_FAMILY.combineText?.([clipL, clipG], 2, { tokenWidth: 8 });
  assert.ok(joined);
  assert.equal(joined.sequenceLength, 3 + 77);
  const t5Part = joined.hiddenStates.subarray(3 * 8, 80 * 8);
  assert.ok(t5Part.every((value) => value === 0));
  assert.throws(
    () => SD3_FAMILY.combineText?.([clipL], 2, { tokenWidth: 8 }),
    /SD3 conditions on CLIP-L and CLIP-G/,
  );
  assert.throws(
    () => SD3_FAMILY.combineText?.([clipL, clipG], 2, { tokenWidth: 4 }),
    /CLIP states \(2 \+ 3\) exceed 4/,
  );
});

test('SD3 takes CLIP penultimate states, the projection where there is one, and T5 last state', () => {
  const tensor = (value: number, dims: number[]) =>
    ({
      data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value),
      dims,
    }) as RunOutputs[string];
  const clip = SD3_FAMILY.selectEncoderOutputs(
    {
      'hidden_states.0': tensor(10, [1, 77, 4]),
      'hidden_states.1': tensor(11, [1, 77, 4]),
      'hidden_states.2': tensor(12, [1, 77, 4]),
      last_hidden_state: tensor(1, [1, 77, 4]),
      pooler_output: tensor(3, [1, 4]),
      text_embeds: tensor(5, [1, 6]),
    },
    'clip_g',
  );
  assert.deepEqual([clip.hidden?.[0], clip.pooled?.[0], clip.pooledSize], [11, 5, 6]);
  const unprojected = SD3_FAMILY.selectEncoderOutputs(
    {
      'hidden_states.0': tensor(10, [1, 77, 4]),
      'hidden_states.1': tensor(11, [1, 77, 4]),
      pooler_output: tensor(3, [1, 4]),
    },
    'clip_l',
  );
  assert.deepEqual([unprojected.hidden?.[0], unprojected.pooled?.[0]], [10, 3]);
  const t5 = SD3_FAMILY.selectEncoderOutputs({ last_hidden_state: tensor(4, [1, 77, 8]) }, 't5');
  assert.deepEqual([t5.hidden?.[0], t5.pooledSize], [4, 0]);
});
