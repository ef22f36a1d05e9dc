// Models from separate component files (ComfyUI's diffusion_models/, text_encoders/, vae/),
// split at test time from the committed tiny all-in-one fixtures (test/helpers/component-files.ts):
// each part is detected and checked against the transformer, and the model generates the very
// pixels the all-in-one file does; a wrong, missing or extra part is refused naming it.
import assert from 'node:assert/strict';
import { copyFile, cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { readCheckpoint } from '../../src/engine/checkpoint/read-checkpoint.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import { loadPipeline, type LoadPipelineOptions } from '../../src/engine/pipeline/load-pipeline.ts';
import type { ComponentFiles } from '../../src/engine/types.ts';
import { CHECKPOINTS } from '../helpers/checkpoint-graphs.ts';
import {
  splitTinyFluxDev,
  splitTinySd35Large,
  type SplitModel,
} from '../helpers/component-files.ts';
import { TINY_SD35_LARGE, writeTinyClipTokenizer } from '../helpers/sd3-folder.ts';

let dir: string;
let sd3: SplitModel;
let flux: SplitModel;
let sd3Options: LoadPipelineOptions;

const FLUX_OPTIONS: LoadPipelineOptions = {
  name: 'split',
  intraOpThreads: 1,
  checkpoint: {
    textHeadDims: [8],
    rotaryAxes: { dims: [8, 12, 12], theta: 10000 },
    t5TokenizerDir: path.join(CHECKPOINTS, 'tiny-flux-schnell', 'tokenizer_2'),
  },
};

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-components-'));
  sd3 = await splitTinySd35Large(path.join(dir, 'sd3'));
  flux = await splitTinyFluxDev(path.join(dir, 'flux'));
  const tokenizerDir = path.join(dir, 'clip-tokenizer');
  await writeTinyClipTokenizer(tokenizerDir);
  sd3Options = {
    name: 'split',
    intraOpThreads: 1,
    checkpoint: { tokenizerDir, textHeadDims: [8, 16] },
  };
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function pixelsOf(
  location: string,
  options: LoadPipelineOptions,
  request: object,
): Promise<Buffer> {
  const pipeline = await loadPipeline(location, options);
  try {
    const [image] = (
      await pipeline.generate({ prompt: 'a red circle', seed: 5, steps: 2, ...request })
    ).images;
    assert.ok(image);
    return await sharp(image.data).raw().toBuffer();
  } finally {
    await pipeline.dispose();
  }
}

test('an SD 3.5 MMDiT-only file with CLIP-L, CLIP-G and VAE files is the all-in-one model', async () => {
  const source = await readCheckpoint(sd3.transformer, {
    preferHalf: false,
    components: sd3.components,
  });
  assert.ok(source);
  assert.equal(source.layout.family, 'sd3');
  assert.equal(source.layout.variant, 'sd3.5-large');
  assert.deepEqual(source.layout.textEncoders, ['clip-l', 'openclip-bigg']);
  assert.equal(source.files.size, 4);
  const request = { width: 32, height: 32, guidanceScale: 4.5 };
  const split = await pixelsOf(
    sd3.transformer,
    { ...sd3Options, components: sd3.components },
    request,
  );
  const allInOne = await pixelsOf(TINY_SD35_LARGE, sd3Options, request);
  assert.ok(split.equals(allInOne), 'the split model draws what the all-in-one file draws');
});

test('a bare FLUX.1 transformer (refused alone) with clip_l, t5xxl and ae files is the all-in-one model', async () => {
  await assert.rejects(
    readCheckpoint(flux.transformer, { preferHalf: false }),
    /FLUX transformer on its own/,
  );
  const request = { width: 32, height: 32 };
  const split = await pixelsOf(
    flux.transformer,
    { ...FLUX_OPTIONS, components: flux.components },
    request,
  );
  const allInOne = await pixelsOf(
    path.join(CHECKPOINTS, 'tiny-flux-dev.safetensors'),
    FLUX_OPTIONS,
    request,
  );
  assert.ok(split.equals(allInOne), 'the split model draws what the all-in-one file draws');
});

test("Z-Image's single-file transformer (ComfyUI's) with Qwen3 and VAE files is the diffusers folder", async () => {
  const folder = path.join(CHECKPOINTS, 'tiny-zimage');
  const root = path.join(dir, 'zimage');
  await mkdir(root, { recursive: true });
  const transformer = path.join(root, 'z_image_turbo.safetensors');
  await copyFile(path.join(CHECKPOINTS, 'tiny-zimage-comfy.safetensors'), transformer);
  // Qwen3's tokenizer: the `tokenizer/` beside the transformer, as for the other Z-Image files.
  await cp(path.join(folder, 'tokenizer'), path.join(root, 'tokenizer'), { recursive: true });
  const components = {
    qwen3: path.join(folder, 'text_encoder', 'model.safetensors'),
    vae: path.join(folder, 'vae', 'diffusion_pytorch_model.safetensors'),
  };
  const options: LoadPipelineOptions = {
    name: 'split',
    intraOpThreads: 1,
    checkpoint: { rotaryAxes: { dims: [8, 12, 12], theta: 256 } },
  };
  const request = { width: 32, height: 32 };
  const split = await pixelsOf(transformer, { ...options, components }, request);
  const diffusers = await pixelsOf(folder, options, request);
  assert.ok(split.equals(diffusers), 'the split model draws what the folder draws');
});

test('a wrong, missing or extra part is refused naming it', async () => {
  const refused = async (
    transformer: string,
    components: ComponentFiles,
    message: RegExp,
  ): Promise<void> =>
    assert.rejects(
      readCheckpoint(transformer, { preferHalf: false, components }),
      (error: unknown) => error instanceof EngineError && message.test(error.message),
    );
  const { clipL, clipG, vae } = sd3.components;
  // CLIP-L and CLIP-G swapped: CLIP-G is the wider one.
  await refused(
    sd3.transformer,
    { ...sd3.components, clipL: clipG!, clipG: clipL! },
    /components\.clipL is 64 wide and components\.clipG 32: CLIP-G is the wider one \(swapped\?\)/,
  );
  await refused(
    sd3.transformer,
    { clipL: clipL!, vae: vae! },
    /name its clipG text encoder file in components\.clipG/,
  );
  await refused(
    sd3.transformer,
    { ...sd3.components, clipG: vae! },
    /components\.clipG: .* is not a CLIP text model/,
  );
  await refused(
    sd3.transformer,
    { ...sd3.components, qwen3: clipL! },
    /conditions on clipL, clipG, t5, not qwen3/,
  );
  await refused(
    sd3.transformer,
    { clipL: clipL!, clipG: clipG! },
    /name its VAE file in components\.vae/,
  );
  // FLUX's CLIP-L is 16 wide where this MMDiT's pooled vector wants SD3's two CLIPs.
  await refused(
    flux.transformer,
    { ...flux.components, clipL: clipL! },
    /components\.clipL is 32 wide; this FLUX transformer takes a 16-wide/,
  );
  await refused(
    flux.transformer,
    { ...flux.components, vae: path.join(CHECKPOINTS, 'tiny-sd1.safetensors') },
    /components\.vae: .* 4 latent channels; this flux transformer takes 16/,
  );
  await refused(clipL!, sd3.components, /is not a FLUX\.1, SD 3\.x or Z-Image transformer/);
});
