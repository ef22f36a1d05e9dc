/**
 * Tensor names of diffusers' `UNet2DConditionModel` and `AutoencoderKL`, written from diffusers'
 * module structure (independently of Pictor's name maps), so a map can be checked against the
 * LDM names the reference code produces.
 */
export interface UnetArchitecture {
  /** Per level: transformer depth, 0 for a level without attention. */
  readonly depths: readonly number[];
  /** Channel multiplier per level: a down block's first resnet has a shortcut where it changes. */
  readonly channelMult: readonly number[];
  readonly midDepth: number;
  readonly addEmbedding: boolean;
}

const wb = (prefix: string): string[] => [`${prefix}.weight`, `${prefix}.bias`];

function resnet(prefix: string, shortcut: boolean): string[] {
  const parts = [
    'norm1',
    'conv1',
    'time_emb_proj',
    'norm2',
    'conv2',
    ...(shortcut ? ['conv_shortcut'] : []),
  ];
  return parts.flatMap((part) => wb(`${prefix}.${part}`));
}

function transformer(prefix: string, depth: number): string[] {
  const names = [...wb(`${prefix}.norm`), ...wb(`${prefix}.proj_in`), ...wb(`${prefix}.proj_out`)];
  for (let k = 0; k < depth; k++) {
    const block = `${prefix}.transformer_blocks.${k}`;
    for (const attn of ['attn1', 'attn2']) {
      names.push(
        `${block}.${attn}.to_q.weight`,
        `${block}.${attn}.to_k.weight`,
        `${block}.${attn}.to_v.weight`,
      );
      names.push(...wb(`${block}.${attn}.to_out.0`));
    }
    names.push(...wb(`${block}.ff.net.0.proj`), ...wb(`${block}.ff.net.2`));
    for (const norm of ['norm1', 'norm2', 'norm3']) names.push(...wb(`${block}.${norm}`));
  }
  return names;
}

export function diffusersUnetNames({
  depths,
  channelMult,
  midDepth,
  addEmbedding,
}: UnetArchitecture): string[] {
  const levels = depths.length;
  const names = [
    ...wb('conv_in'),
    ...wb('time_embedding.linear_1'),
    ...wb('time_embedding.linear_2'),
  ];
  if (addEmbedding) names.push(...wb('add_embedding.linear_1'), ...wb('add_embedding.linear_2'));
  for (let i = 0; i < levels; i++) {
    for (let j = 0; j < 2; j++) {
      names.push(
        ...resnet(
          `down_blocks.${i}.resnets.${j}`,
          i > 0 && j === 0 && channelMult[i] !== channelMult[i - 1],
        ),
      );
      if (depths[i]) names.push(...transformer(`down_blocks.${i}.attentions.${j}`, depths[i] ?? 0));
    }
    if (i < levels - 1) names.push(...wb(`down_blocks.${i}.downsamplers.0.conv`));
  }
  names.push(...resnet('mid_block.resnets.0', false), ...resnet('mid_block.resnets.1', false));
  names.push(...transformer('mid_block.attentions.0', midDepth));
  for (let i = 0; i < levels; i++) {
    const depth = depths[levels - 1 - i] ?? 0;
    for (let j = 0; j < 3; j++) {
      names.push(...resnet(`up_blocks.${i}.resnets.${j}`, true));
      if (depth) names.push(...transformer(`up_blocks.${i}.attentions.${j}`, depth));
    }
    if (i < levels - 1) names.push(...wb(`up_blocks.${i}.upsamplers.0.conv`));
  }
  names.push(...wb('conv_norm_out'), ...wb('conv_out'));
  return names;
}

function vaeResnet(prefix: string, shortcut: boolean): string[] {
  const parts = ['norm1', 'conv1', 'norm2', 'conv2', ...(shortcut ? ['conv_shortcut'] : [])];
  return parts.flatMap((part) => wb(`${prefix}.${part}`));
}

function vaeMid(side: string): string[] {
  const attention = ['group_norm', 'to_q', 'to_k', 'to_v', 'to_out.0'].flatMap((part) =>
    wb(`${side}.mid_block.attentions.0.${part}`),
  );
  return [
    ...vaeResnet(`${side}.mid_block.resnets.0`, false),
    ...attention,
    ...vaeResnet(`${side}.mid_block.resnets.1`, false),
  ];
}

/** SD's VAE: channels 128, 256, 512, 512. */
export function diffusersVaeNames(): string[] {
  const names = [
    ...wb('encoder.conv_in'),
    ...vaeMid('encoder'),
    ...wb('encoder.conv_norm_out'),
    ...wb('encoder.conv_out'),
  ];
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 2; j++)
      names.push(
        ...vaeResnet(`encoder.down_blocks.${i}.resnets.${j}`, (i === 1 || i === 2) && j === 0),
      );
    if (i < 3) names.push(...wb(`encoder.down_blocks.${i}.downsamplers.0.conv`));
  }
  names.push(
    ...wb('decoder.conv_in'),
    ...vaeMid('decoder'),
    ...wb('decoder.conv_norm_out'),
    ...wb('decoder.conv_out'),
  );
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 3; j++)
      names.push(
        ...vaeResnet(`decoder.up_blocks.${i}.resnets.${j}`, (i === 2 || i === 3) && j === 0),
      );
    if (i < 3) names.push(...wb(`decoder.up_blocks.${i}.upsamplers.0.conv`));
  }
  names.push(...wb('quant_conv'), ...wb('post_quant_conv'));
  return names;
}
