import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ldmUnetIndex } from '../../src/engine/checkpoint/diffusers-unet-names.ts';
import { ldmVaeIndex } from '../../src/engine/checkpoint/diffusers-vae-names.ts';
import type { TensorIndex, TensorRef } from '../../src/engine/checkpoint/tensor-ref.ts';
import { realCheckpointTensors } from '../helpers/checkpoint-headers.ts';
import { diffusersUnetNames, diffusersVaeNames } from '../helpers/diffusers-names.ts';

function indexOf(
  names: readonly string[],
  shape: (name: string) => number[] = () => [1],
): TensorIndex {
  return new Map(
    names.map((name, i): [string, TensorRef] => [
      name,
      { dtype: 'F32', shape: shape(name), file: `/weights/${name}`, offset: i * 4, length: 4 },
    ]),
  );
}

/** The names under `prefix` in a real checkpoint header, prefix removed. */
function realNames(checkpoint: string, prefix: string): string[] {
  return realCheckpointTensors(checkpoint)
    .filter(({ name }) => name.startsWith(prefix))
    .map(({ name }) => name.slice(prefix.length));
}

test('diffusers SD 1.5 and SDXL UNet names map onto exactly the reference LDM/SGM names', () => {
  for (const [checkpoint, architecture] of [
    ['sd15', { depths: [1, 1, 1, 0], channelMult: [1, 2, 4, 4], midDepth: 1, addEmbedding: false }],
    ['sdxl-base', { depths: [0, 2, 10], channelMult: [1, 2, 4], midDepth: 10, addEmbedding: true }],
  ] as const) {
    const diffusers = indexOf(diffusersUnetNames(architecture));
    const mapped = ldmUnetIndex(diffusers);
    assert.equal(mapped.size, diffusers.size, `${checkpoint}: no two names collapse`);
    assert.deepEqual(
      [...mapped.keys()].sort(),
      realNames(checkpoint, 'model.diffusion_model.').sort(),
      checkpoint,
    );
  }
});

test('UNet views point at the same bytes under known LDM names', () => {
  const diffusers = indexOf(
    diffusersUnetNames({
      depths: [1, 1, 1, 0],
      channelMult: [1, 2, 4, 4],
      midDepth: 1,
      addEmbedding: false,
    }),
  );
  const mapped = ldmUnetIndex(diffusers);
  const same = (ldm: string, original: string) =>
    assert.equal(mapped.get(ldm), diffusers.get(original), ldm);
  same('input_blocks.4.0.skip_connection.weight', 'down_blocks.1.resnets.0.conv_shortcut.weight');
  same('input_blocks.3.0.op.weight', 'down_blocks.0.downsamplers.0.conv.weight');
  same('output_blocks.2.1.conv.weight', 'up_blocks.0.upsamplers.0.conv.weight');
  same('output_blocks.5.2.conv.weight', 'up_blocks.1.upsamplers.0.conv.weight');
  same('middle_block.2.out_layers.3.weight', 'mid_block.resnets.1.conv2.weight');
  same('time_embed.2.bias', 'time_embedding.linear_2.bias');
});

test('diffusers VAE names map onto the LDM names, attention re-declared as 1×1 convolutions', () => {
  const diffusers = indexOf(diffusersVaeNames(), (name) =>
    /attentions\.0\.(to_[qkv]|to_out\.0)\.weight$/.test(name) ? [512, 512] : [1],
  );
  const mapped = ldmVaeIndex(diffusers);
  assert.deepEqual([...mapped.keys()].sort(), realNames('sd15', 'first_stage_model.').sort());
  const real = new Map(realCheckpointTensors('sd15').map((tensor) => [tensor.name, tensor.shape]));
  for (const part of ['q', 'k', 'v', 'proj_out']) {
    const name = `decoder.mid.attn_1.${part}.weight`;
    assert.deepEqual(mapped.get(name)?.shape, real.get(`first_stage_model.${name}`));
    assert.equal(
      mapped.get(name)?.offset,
      diffusers.get(
        `decoder.mid_block.attentions.0.${part === 'proj_out' ? 'to_out.0' : `to_${part}`}.weight`,
      )?.offset,
    );
  }
  assert.equal(
    mapped.get('decoder.up.3.upsample.conv.weight'),
    diffusers.get('decoder.up_blocks.0.upsamplers.0.conv.weight'),
  );
});
