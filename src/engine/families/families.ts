import type { ModelFamily } from '../types.ts';
import type { FamilyParts } from './family-parts.ts';
import { FLUX_FAMILY } from './flux-family.ts';
import { SD_FAMILY } from './sd-family.ts';
import { SD3_FAMILY } from './sd3-family.ts';
import { SDXL_FAMILY } from './sdxl-family.ts';
import { Z_IMAGE_FAMILY } from './z-image-family.ts';

/** Every family the engine runs, by the name the manifest detects. */
export const FAMILIES: Readonly<Record<ModelFamily, FamilyParts>> = {
  sd: SD_FAMILY,
  sdxl: SDXL_FAMILY,
  flux: FLUX_FAMILY,
  sd3: SD3_FAMILY,
  zimage: Z_IMAGE_FAMILY,
};
