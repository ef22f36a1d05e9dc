import type { CheckpointFamily } from '../checkpoint/checkpoint-layout.ts';
import {
  buildMmdit,
  buildUnet,
  type BuiltGraph,
  type GraphPrecision,
} from '../checkpoint/graphs/index.ts';
import type { TensorIndex } from '../checkpoint/tensor-ref.ts';
import type { CheckpointGraphSettings } from './checkpoint-graph-settings.ts';

type BuildDenoiser = (
  index: TensorIndex,
  settings: CheckpointGraphSettings,
  precision: GraphPrecision,
) => BuiltGraph;

const unet: BuildDenoiser = (index, settings, precision) =>
  buildUnet(index, {
    precision,
    ...(settings.unetHeads ? { heads: settings.unetHeads } : {}),
    ...(settings.timeIdWidth ? { timeIdWidth: settings.timeIdWidth } : {}),
  });

/** Each checkpoint family's denoiser graph: the LDM/SGM UNet, or SD3's MMDiT. */
export const DENOISER_GRAPHS: Readonly<Record<CheckpointFamily, BuildDenoiser>> = {
  sd1: unet,
  sd2: unet,
  sdxl: unet,
  sd3: (index, _settings, precision) => buildMmdit(index, { precision }),
};
