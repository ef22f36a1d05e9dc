import { countIndices } from './diffusers-vae-names.ts';
import { renameIndex } from './index-views.ts';
import type { TensorIndex } from './tensor-ref.ts';

/** diffusers ResnetBlock2D parts → LDM ResBlock parts. */
const RESNET_PARTS: readonly [RegExp, string][] = [
  [/\.norm1\./, '.in_layers.0.'],
  [/\.conv1\./, '.in_layers.2.'],
  [/\.time_emb_proj\./, '.emb_layers.1.'],
  [/\.norm2\./, '.out_layers.0.'],
  [/\.conv2\./, '.out_layers.3.'],
  [/\.conv_shortcut\./, '.skip_connection.'],
];

const TOP_LEVEL: readonly [RegExp, string][] = [
  [/^time_embedding\.linear_1\./, 'time_embed.0.'],
  [/^time_embedding\.linear_2\./, 'time_embed.2.'],
  [/^add_embedding\.linear_1\./, 'label_emb.0.0.'],
  [/^add_embedding\.linear_2\./, 'label_emb.0.2.'],
  [/^conv_in\./, 'input_blocks.0.0.'],
  [/^conv_norm_out\./, 'out.0.'],
  [/^conv_out\./, 'out.2.'],
  [/^mid_block\.resnets\.0\./, 'middle_block.0.'],
  [/^mid_block\.attentions\.0\./, 'middle_block.1.'],
  [/^mid_block\.resnets\.1\./, 'middle_block.2.'],
];

/**
 * A diffusers `UNet2DConditionModel` index (SD 1/2/XL) seen in LDM/SGM names
 * (`model.diffusion_model.*` without the prefix), as the UNet graph builder reads them. Only
 * block numbering and ResBlock part names differ; transformer blocks are named alike.
 */
export function ldmUnetIndex(diffusers: TensorIndex): TensorIndex {
  const perLevel = countIndices(diffusers, /^down_blocks\.0\.resnets\.(\d+)\./) + 1;
  const upWithAttention = new Set<number>();
  for (const name of diffusers.keys()) {
    const match = /^up_blocks\.(\d+)\.attentions\./.exec(name);
    if (match) upWithAttention.add(Number(match[1]));
  }
  return renameIndex(diffusers, (name) => {
    const renamed = TOP_LEVEL.reduce(
      (current, [pattern, ldm]) => current.replace(pattern, ldm),
      name,
    )
      .replace(
        /^down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\./,
        (_, i: string, kind: string, j: string) =>
          `input_blocks.${1 + Number(i) * perLevel + Number(j)}.${kind === 'resnets' ? 0 : 1}.`,
      )
      .replace(
        /^down_blocks\.(\d+)\.downsamplers\.0\.conv\./,
        (_, i: string) => `input_blocks.${(Number(i) + 1) * perLevel}.0.op.`,
      )
      .replace(
        /^up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\./,
        (_, i: string, kind: string, j: string) =>
          `output_blocks.${Number(i) * perLevel + Number(j)}.${kind === 'resnets' ? 0 : 1}.`,
      )
      .replace(
        /^up_blocks\.(\d+)\.upsamplers\.0\./,
        (_, i: string) =>
          `output_blocks.${Number(i) * perLevel + perLevel - 1}.${upWithAttention.has(Number(i)) ? 2 : 1}.`,
      );
    return isResnet(renamed) ? renameResnetParts(renamed) : renamed;
  });
}

/** A ResBlock sits at position 0 of an input/output block and at 0 and 2 of the middle block. */
function isResnet(name: string): boolean {
  return /^(input_blocks\.\d+\.0\.|output_blocks\.\d+\.0\.|middle_block\.[02]\.)/.test(name);
}

function renameResnetParts(name: string): string {
  for (const [pattern, ldm] of RESNET_PARTS)
    if (pattern.test(name)) return name.replace(pattern, ldm);
  return name;
}
