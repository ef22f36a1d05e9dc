// ComfyUI-style files come without tokenizers (ComfyUI ships its own): a FLUX.1 or Z-Image model
// from separate files with no tokenizer folder beside the transformer tokenizes with the T5-XXL
// or Qwen3 tokenizer Pictor bundles (models/t5-tokenizer/, models/qwen3-tokenizer/, gzipped),
// a folder beside it still wins, and a named folder without one is an error that says so.
// The tiny encoders' embeddings are grown to the real vocabularies so every real id is a row.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { EngineError } from '../../src/engine/engine-error.ts';
import { loadPipeline, type LoadPipelineOptions } from '../../src/engine/pipeline/load-pipeline.ts';
import {
  BUNDLED_QWEN3_TOKENIZER_DIR,
  BUNDLED_T5_TOKENIZER_DIR,
} from '../../src/engine/text/bundled-tokenizers.ts';
import { CHECKPOINTS } from '../helpers/checkpoint-graphs.ts';
import { splitTinyFluxDev, widenEmbedding, type SplitModel } from '../helpers/component-files.ts';

/** T5-XXL's embedding rows (32,100 tokens, padded to 32,128) and Qwen3's (151,669, to 151,936). */
const T5_ROWS = 32128;
const QWEN3_ROWS = 151936;
const TINY_T5_TOKENIZER = path.join(CHECKPOINTS, 'tiny-flux-schnell', 'tokenizer_2');
const TINY_ZIMAGE = path.join(CHECKPOINTS, 'tiny-zimage');
const PROMPT = 'a red circle on a blue square, highly detailed';

let dir: string;
let flux: SplitModel;
let zimage: SplitModel;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-bundled-tokenizers-'));
  const split = await splitTinyFluxDev(path.join(dir, 'flux'));
  flux = {
    transformer: split.transformer,
    components: {
      ...split.components,
      t5: await widenEmbedding(
        split.components.t5!,
        'shared.weight',
        T5_ROWS,
        path.join(dir, 'flux', 'text_encoders', 't5xxl_fp16.safetensors'),
      ),
    },
  };
  const transformer = path.join(dir, 'zimage', 'diffusion_models', 'z_image_turbo.safetensors');
  await mkdir(path.dirname(transformer), { recursive: true });
  await cp(path.join(CHECKPOINTS, 'tiny-zimage-comfy.safetensors'), transformer);
  zimage = {
    transformer,
    components: {
      qwen3: await widenEmbedding(
        path.join(TINY_ZIMAGE, 'text_encoder', 'model.safetensors'),
        'model.embed_tokens.weight',
        QWEN3_ROWS,
        path.join(dir, 'zimage', 'text_encoders', 'qwen_3_4b.safetensors'),
      ),
      vae: path.join(TINY_ZIMAGE, 'vae', 'diffusion_pytorch_model.safetensors'),
    },
  };
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const FLUX_SETTINGS = { textHeadDims: [8], rotaryAxes: { dims: [8, 12, 12], theta: 10000 } };
const ZIMAGE_SETTINGS = { rotaryAxes: { dims: [8, 12, 12], theta: 256 } };

async function pixelsOf(model: SplitModel, checkpoint: object): Promise<Buffer> {
  const options: LoadPipelineOptions = {
    name: 'split',
    intraOpThreads: 1,
    components: model.components,
    checkpoint,
  };
  const pipeline = await loadPipeline(model.transformer, options);
  try {
    const [image] = (
      await pipeline.generate({ prompt: PROMPT, seed: 5, steps: 2, width: 32, height: 32 })
    ).images;
    assert.ok(image);
    return await sharp(image.data).raw().toBuffer();
  } finally {
    await pipeline.dispose();
  }
}

test("FLUX.1 from ComfyUI's files with no tokenizer_2/ beside it uses the bundled T5-XXL tokenizer; one beside it wins", async () => {
  const bundled = await pixelsOf(flux, FLUX_SETTINGS);
  const named = await pixelsOf(flux, {
    ...FLUX_SETTINGS,
    t5TokenizerDir: BUNDLED_T5_TOKENIZER_DIR,
  });
  assert.ok(bundled.equals(named), 'no folder beside the file: the bundled tokenizer');

  await cp(TINY_T5_TOKENIZER, path.join(path.dirname(flux.transformer), 'tokenizer_2'), {
    recursive: true,
  });
  try {
    const beside = await pixelsOf(flux, FLUX_SETTINGS);
    const tiny = await pixelsOf(flux, { ...FLUX_SETTINGS, t5TokenizerDir: TINY_T5_TOKENIZER });
    assert.ok(beside.equals(tiny), 'the tokenizer_2/ beside the transformer is used');
    assert.ok(!beside.equals(bundled), 'and it is not the bundled one');
  } finally {
    await rm(path.join(path.dirname(flux.transformer), 'tokenizer_2'), { recursive: true });
  }
});

test("Z-Image from ComfyUI's files with no tokenizer/ beside it uses the bundled Qwen3 tokenizer; one beside it wins", async () => {
  const bundled = await pixelsOf(zimage, ZIMAGE_SETTINGS);
  const named = await pixelsOf(zimage, {
    ...ZIMAGE_SETTINGS,
    qwen3TokenizerDir: BUNDLED_QWEN3_TOKENIZER_DIR,
  });
  assert.ok(bundled.equals(named), 'no folder beside the file: the bundled tokenizer');

  const tinyTokenizer = path.join(TINY_ZIMAGE, 'tokenizer');
  await cp(tinyTokenizer, path.join(path.dirname(zimage.transformer), 'tokenizer'), {
    recursive: true,
  });
  try {
    const beside = await pixelsOf(zimage, ZIMAGE_SETTINGS);
    const tiny = await pixelsOf(zimage, { ...ZIMAGE_SETTINGS, qwen3TokenizerDir: tinyTokenizer });
    assert.ok(beside.equals(tiny), 'the tokenizer/ beside the transformer is used');
    assert.ok(!beside.equals(bundled), 'and it is not the bundled one');
  } finally {
    await rm(path.join(path.dirname(zimage.transformer), 'tokenizer'), { recursive: true });
  }
});

test('a named tokenizer folder without a tokenizer.json is refused naming the folder and the fix', async () => {
  const empty = path.join(dir, 'empty-tokenizer');
  await mkdir(empty);
  await assert.rejects(
    loadPipeline(flux.transformer, {
      name: 'split',
      intraOpThreads: 1,
      components: flux.components,
      checkpoint: { ...FLUX_SETTINGS, t5TokenizerDir: empty },
    }),
    (error: unknown) =>
      error instanceof EngineError &&
      error.code === 'MODEL_INVALID' &&
      error.message.includes(`no T5 tokenizer in ${empty}`) &&
      /looked for tokenizer\.json and tokenizer\.json\.gz/.test(error.message) &&
      /copy the model's tokenizer folder there .* or name no tokenizer folder to use the one Pictor bundles/.test(
        error.message,
      ),
  );
});
