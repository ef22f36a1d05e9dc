import { EngineError } from '../engine-error.ts';
import type { ComponentFiles } from '../types.ts';
import type { CheckpointFamily, CheckpointLayout, TextEncoderKind } from './checkpoint-layout.ts';
import type { CheckpointSource } from './checkpoint-source.ts';
import type { TextEncoderIndex } from './checkpoint-components.ts';
import { sd3Variant } from './detect-sd3.ts';
import { FLUX_MARKER } from './detect-flux.ts';
import { stabilityMmditIndex } from './diffusers-mmdit-names.ts';
import type { FileIdentity } from './file-identity.ts';
import { fluxIndexFromBfl, fluxIndexFromDiffusers } from './flux-transformer-names.ts';
import { fluxTransformerShape } from './graphs/flux-transformer.ts';
import { mmditShape } from './graphs/mmdit.ts';
import { qwen3Index } from './graphs/qwen3-encoder.ts';
import { zImageTransformerShape } from './graphs/z-image-transformer.ts';
import { indexUnderPrefix } from './index-views.ts';
import { readSafetensors } from './read-safetensors.ts';
import { ldmVaeLayout } from './read-vae-file.ts';
import { UNET_PREFIX } from './single-file-prefixes.ts';
import type { TensorIndex } from './tensor-ref.ts';
import {
  Z_IMAGE_DIFFUSERS_MARKER,
  Z_IMAGE_MARKER,
  zImageTransformerIndex,
} from './z-image-transformer-names.ts';

type EncoderRole = Exclude<keyof ComponentFiles, 'vae'>;

/** A text encoder role: the kind it is, whether the family needs it, in conditioning order. */
interface EncoderSlot {
  readonly role: EncoderRole;
  readonly kind: TextEncoderKind;
  readonly required: boolean;
}

/** What the denoiser file's tensors say, in the names the graph builders read. */
interface Denoiser {
  readonly family: CheckpointFamily;
  readonly unet: TensorIndex;
  readonly latentChannels: number;
  readonly layout: Pick<CheckpointLayout, 'guidanceDistilled' | 'variant'>;
  readonly encoders: readonly EncoderSlot[];
  /** The encoders' widths this transformer was trained with; a mismatch names both numbers. */
  readonly expects: (encoders: ReadonlyMap<EncoderRole, EncoderWidths>) => string | undefined;
}

interface EncoderWidths {
  /** Hidden-state width (CLIP's, T5's `d_model`, Qwen3's). */
  readonly hidden: number;
  /** CLIP's `text_projection` output width, when it has one. */
  readonly projection: number | undefined;
}

const CLIP_EMBEDDING = 'text_model.embeddings.token_embedding.weight';

/**
 * A model from separate files, the way ComfyUI's `models/diffusion_models`, `text_encoders` and
 * `vae` folders hold them: a transformer-only `.safetensors` (FLUX.1 in BFL or diffusers names,
 * SD 3.x's MMDiT in Stability's or diffusers' names, Z-Image's DiT in either layout), the text
 * encoders its family conditions on, each its own file in Hugging Face names, and a VAE (LDM or
 * diffusers names). Each file is detected for what it is and checked against the transformer's
 * shapes, so a CLIP-G named as CLIP-L or an SDXL VAE under FLUX is refused naming the file.
 */
export async function readComponentFiles(
  denoiserFile: string,
  parts: ComponentFiles,
): Promise<CheckpointSource> {
  const files = new Map<string, FileIdentity>();
  const read = async (
    file: string,
  ): Promise<{ index: TensorIndex; metadata: Record<string, string> }> => {
    const weights = await readSafetensors(file);
    files.set(weights.file, weights.identity);
    return { index: weights.index, metadata: { ...weights.metadata } };
  };
  const { index: raw, metadata } = await read(denoiserFile);
  const denoiser = detectDenoiser(denoiserFile, raw, metadata);

  for (const role of Object.keys(parts) as (keyof ComponentFiles)[]) {
    if (role !== 'vae' && !denoiser.encoders.some((slot) => slot.role === role)) {
      throw new EngineError(
        'MODEL_INVALID',
        `components.${role}: a ${denoiser.family} model conditions on ${denoiser.encoders.map((slot) => slot.role).join(', ')}, not ${role}`,
      );
    }
  }
  const textEncoders: TextEncoderIndex[] = [];
  const widths = new Map<EncoderRole, EncoderWidths>();
  for (const slot of denoiser.encoders) {
    const file = parts[slot.role];
    if (file === undefined) {
      if (!slot.required) continue;
      throw new EngineError(
        'MODEL_INVALID',
        `${denoiserFile} is a ${denoiser.family} transformer on its own: name its ${slot.role} text encoder file in components.${slot.role}`,
      );
    }
    const { index } = await read(file);
    const encoder = textEncoderIndex(file, slot, index);
    textEncoders.push({ kind: slot.kind, index: encoder.index });
    widths.set(slot.role, encoder.widths);
  }
  const mismatch = denoiser.expects(widths);
  if (mismatch) throw new EngineError('MODEL_INVALID', `${denoiserFile}: ${mismatch}`);

  if (parts.vae === undefined) {
    throw new EngineError(
      'MODEL_INVALID',
      `${denoiserFile} is a ${denoiser.family} transformer on its own: name its VAE file in components.vae`,
    );
  }
  const vae = ldmVaeLayout((await read(parts.vae)).index);
  const vaeChannels = vae.get('decoder.conv_in.weight')?.shape[1];
  if (vaeChannels !== denoiser.latentChannels) {
    throw new EngineError(
      'MODEL_INVALID',
      vaeChannels === undefined
        ? `components.vae: ${parts.vae} is not a VAE (no decoder.conv_in)`
        : `components.vae: ${parts.vae} has ${vaeChannels} latent channels; this ${denoiser.family} transformer takes ${denoiser.latentChannels}`,
    );
  }
  return {
    layout: {
      family: denoiser.family,
      predictionType: 'epsilon',
      unetInChannels: denoiser.latentChannels,
      ...denoiser.layout,
      textEncoders: textEncoders.map(({ kind }) => kind),
      hasVae: true,
    },
    components: { unet: denoiser.unet, vae, textEncoders },
    files,
  };
}

const SD3_ENCODERS: readonly EncoderSlot[] = [
  { role: 'clipL', kind: 'clip-l', required: true },
  { role: 'clipG', kind: 'openclip-bigg', required: true },
  { role: 't5', kind: 't5', required: false },
];
const FLUX_ENCODERS: readonly EncoderSlot[] = [
  { role: 'clipL', kind: 'clip-l', required: true },
  { role: 't5', kind: 't5', required: true },
];
const Z_IMAGE_ENCODERS: readonly EncoderSlot[] = [{ role: 'qwen3', kind: 'qwen3', required: true }];

/** The transformer a file holds (bare, or under `model.diffusion_model.`), or a refusal. */
function detectDenoiser(
  file: string,
  raw: TensorIndex,
  metadata: Readonly<Record<string, string>>,
): Denoiser {
  const index = [...raw.keys()].some((name) => name.startsWith(UNET_PREFIX))
    ? indexUnderPrefix(raw, UNET_PREFIX)
    : raw;
  if (index.has('pos_embed') || index.has('pos_embed.pos_embed')) {
    const unet = index.has('pos_embed.pos_embed') ? stabilityMmditIndex(index) : index;
    const shape = mmditShape(unet);
    return {
      family: 'sd3',
      unet,
      latentChannels: shape.inChannels,
      layout: { variant: sd3Variant(file, unet, metadata) },
      encoders: SD3_ENCODERS,
      expects: (widths) => {
        const l = widths.get('clipL');
        const g = widths.get('clipG');
        const t5 = widths.get('t5');
        // The widths alone cannot tell the two CLIPs apart (768 + 1280 pools to 2048 either
        // way); in every SD3 release CLIP-G (ViT-bigG) is the wider.
        if ((l?.hidden ?? 0) >= (g?.hidden ?? 0)) {
          return `components.clipL is ${l?.hidden} wide and components.clipG ${g?.hidden}: CLIP-G is the wider one (swapped?)`;
        }
        // SD3 pools CLIP-L unprojected ‖ CLIP-G projected, and sets their states side by side.
        const pooled = (l?.hidden ?? 0) + (g?.projection ?? g?.hidden ?? 0);
        if (pooled !== shape.pooledWidth) {
          return `CLIP-L's ${l?.hidden} + CLIP-G's ${g?.projection ?? g?.hidden} pooled widths make ${pooled}; this MMDiT takes ${shape.pooledWidth} (components.clipL / clipG swapped or of another model?)`;
        }
        if ((l?.hidden ?? 0) + (g?.hidden ?? 0) > shape.contextWidth) {
          return `CLIP-L's and CLIP-G's states (${l?.hidden} + ${g?.hidden}) are wider than this MMDiT's ${shape.contextWidth}-wide text tokens`;
        }
        if (t5 && t5.hidden !== shape.contextWidth) {
          return `components.t5 is ${t5.hidden} wide; this MMDiT takes ${shape.contextWidth}-wide text tokens (T5-XXL's)`;
        }
        return undefined;
      },
    };
  }
  const flux = index.has(FLUX_MARKER)
    ? fluxIndexFromBfl(index)
    : index.has('x_embedder.weight') && index.has('single_transformer_blocks.0.proj_out.weight')
      ? fluxIndexFromDiffusers(index)
      : undefined;
  if (flux) {
    const shape = fluxTransformerShape(flux);
    return {
      family: 'flux',
      unet: flux,
      latentChannels: shape.inChannels / 4,
      layout: { guidanceDistilled: shape.guidanceEmbedding },
      encoders: FLUX_ENCODERS,
      expects: (widths) => {
        const l = widths.get('clipL');
        const t5 = widths.get('t5');
        // FLUX takes CLIP-L's pooled output as it is and T5's states.
        if (l?.hidden !== shape.pooledWidth) {
          return `components.clipL is ${l?.hidden} wide; this FLUX transformer takes a ${shape.pooledWidth}-wide CLIP-L pooled vector`;
        }
        if (t5?.hidden !== shape.contextWidth) {
          return `components.t5 is ${t5?.hidden} wide; this FLUX transformer takes ${shape.contextWidth}-wide T5 states`;
        }
        return undefined;
      },
    };
  }
  if (index.has(Z_IMAGE_DIFFUSERS_MARKER) || index.has(Z_IMAGE_MARKER)) {
    const unet = zImageTransformerIndex(index);
    const shape = zImageTransformerShape(unet);
    return {
      family: 'zimage',
      unet,
      latentChannels: shape.patchWidth / 4,
      layout: {},
      encoders: Z_IMAGE_ENCODERS,
      expects: (widths) => {
        const qwen3 = widths.get('qwen3');
        return qwen3?.hidden === shape.captionWidth
          ? undefined
          : `components.qwen3 is ${qwen3?.hidden} wide; this Z-Image transformer takes ${shape.captionWidth}-wide caption states`;
      },
    };
  }
  throw new EngineError(
    'MODEL_UNSUPPORTED',
    `${file} is not a FLUX.1, SD 3.x or Z-Image transformer, so it cannot be combined with separate text encoder and VAE files`,
  );
}

/** A text encoder file in Hugging Face names, checked to be the kind its role names. */
function textEncoderIndex(
  file: string,
  slot: EncoderSlot,
  index: TensorIndex,
): { index: TensorIndex; widths: EncoderWidths } {
  const refuse = (what: string): never => {
    throw new EngineError(
      'MODEL_INVALID',
      `components.${slot.role}: ${file} is not ${what} (Hugging Face names expected)`,
    );
  };
  if (slot.kind === 't5') {
    const shared = index.get('shared.weight') ?? index.get('encoder.embed_tokens.weight');
    if (!shared || !index.has('encoder.block.0.layer.0.SelfAttention.q.weight')) {
      return refuse('a T5 encoder');
    }
    return { index, widths: { hidden: shared.shape[1] ?? 0, projection: undefined } };
  }
  if (slot.kind === 'qwen3') {
    const qwen3 = qwen3Index(index);
    const embedding = qwen3.get('embed_tokens.weight');
    if (!embedding) return refuse('a Qwen3 model');
    return { index: qwen3, widths: { hidden: embedding.shape[1] ?? 0, projection: undefined } };
  }
  const embedding = index.get(CLIP_EMBEDDING);
  if (!embedding) return refuse('a CLIP text model');
  return {
    index,
    widths: {
      hidden: embedding.shape[1] ?? 0,
      projection: index.get('text_projection.weight')?.shape[0],
    },
  };
}
