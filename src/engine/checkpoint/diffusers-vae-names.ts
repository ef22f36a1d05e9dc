import { mapIndex } from './index-views.ts';
import type { TensorIndex, TensorRef } from './tensor-ref.ts';

const ATTENTION_PARTS: Readonly<Record<string, string>> = {
  group_norm: 'norm',
  to_q: 'q',
  query: 'q',
  to_k: 'k',
  key: 'k',
  to_v: 'v',
  value: 'v',
  'to_out.0': 'proj_out',
  proj_attn: 'proj_out',
};

/**
 * A diffusers `AutoencoderKL` index seen in CompVis LDM names (`first_stage_model.*` without the
 * prefix), the layout the VAE graph builders read. diffusers numbers decoder up-blocks from the
 * lowest resolution, LDM from the highest; its mid-block attention is Linear where LDM has 1×1
 * convolutions (same bytes, re-declared as `[C, C, 1, 1]`).
 */
export function ldmVaeIndex(diffusers: TensorIndex): TensorIndex {
  const upBlocks = countIndices(diffusers, /^decoder\.up_blocks\.(\d+)\./);
  return mapIndex(diffusers, (name, ref) => {
    const attention = /^(encoder|decoder)\.mid_block\.attentions\.0\.(.+)\.(weight|bias)$/.exec(
      name,
    );
    if (attention) {
      const [, side, part = '', kind] = attention;
      const ldmPart = ATTENTION_PARTS[part] ?? part;
      return [`${side}.mid.attn_1.${ldmPart}.${kind}`, asConv1x1(ref, part !== 'group_norm')];
    }
    return [vaeName(name, upBlocks), ref];
  });
}

function vaeName(name: string, upBlocks: number): string {
  return name
    .replace(/^(encoder|decoder)\.conv_norm_out\./, '$1.norm_out.')
    .replace(/^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\./, 'encoder.down.$1.block.$2.')
    .replace(/^encoder\.down_blocks\.(\d+)\.downsamplers\.0\./, 'encoder.down.$1.downsample.')
    .replace(
      /^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\./,
      (_, i: string, j: string) => `decoder.up.${upBlocks - 1 - Number(i)}.block.${j}.`,
    )
    .replace(
      /^decoder\.up_blocks\.(\d+)\.upsamplers\.0\./,
      (_, i: string) => `decoder.up.${upBlocks - 1 - Number(i)}.upsample.`,
    )
    .replace(
      /^(encoder|decoder)\.mid_block\.resnets\.(\d)\./,
      (_, side: string, j: string) => `${side}.mid.block_${Number(j) + 1}.`,
    )
    .replace(/\.conv_shortcut\./, '.nin_shortcut.');
}

function asConv1x1(ref: TensorRef, isProjection: boolean): TensorRef {
  return isProjection && ref.shape.length === 2 ? { ...ref, shape: [...ref.shape, 1, 1] } : ref;
}

/** How many distinct numbers the first group of `pattern` takes over the index's names. */
export function countIndices(index: TensorIndex, pattern: RegExp): number {
  const seen = new Set<string>();
  for (const name of index.keys()) {
    const match = pattern.exec(name);
    if (match?.[1] !== undefined) seen.add(match[1]);
  }
  return seen.size;
}
