// Components create their sessions when first needed, and low-memory mode keeps at most the one
// in use: asserted through the sessions the pipeline reports live (not RSS, which is noisy), on
// real models — the trained tiny SD 1.x checkpoint, the tiny SD 3.5 file (two text encoders, and
// a text join that reads the denoiser's input) and the bundled ONNX folder — with images
// bit-identical to the default mode's.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  loadPipeline,
  type DiffusionPipeline,
  type GenerateRequest,
  type LoadPipelineOptions,
} from '../../src/engine/index.ts';
import { BUNDLED_CLIP_TOKENIZER_DIR } from '../../src/engine/text/bundled-tokenizers.ts';
import { CHECKPOINTS } from '../helpers/checkpoint-graphs.ts';

const MODELS = path.resolve(import.meta.dirname, '../../models');
const TINY_SD1_CKPT = path.join(MODELS, 'tiny-sd1-ckpt/tiny-sd1-ckpt.safetensors');
let dir: string;
let tokenizerDir: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-low-memory-'));
  // The SD 3.5 fixture's text encoders have a 1024-token vocabulary: the first 510 CLIP merges.
  tokenizerDir = path.join(dir, 'tokenizer');
  const merges = (await readFile(path.join(BUNDLED_CLIP_TOKENIZER_DIR, 'merges.txt'), 'utf8'))
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#'));
  await mkdir(tokenizerDir);
  await writeFile(path.join(tokenizerDir, 'merges.txt'), merges.slice(0, 510).join('\n') + '\n');
});
after(() => rm(dir, { recursive: true, force: true }));

/** The images of `requests`, in order, with the sessions live at each step and after each. */
async function run(
  pipeline: DiffusionPipeline,
  requests: readonly GenerateRequest[],
): Promise<{ images: Buffer[]; duringSteps: string[][]; after: string[][] }> {
  const images: Buffer[] = [];
  const duringSteps: string[][] = [];
  const afterEach: string[][] = [];
  for (const request of requests) {
    const result = await pipeline.generate(request, {
      onProgress: () => duringSteps.push([...pipeline.liveSessions()]),
    });
    images.push(...result.images.map((image) => image.data));
    afterEach.push([...pipeline.liveSessions()]);
  }
  return { images, duringSteps, after: afterEach };
}

async function both(
  location: string,
  options: LoadPipelineOptions,
  requests: readonly GenerateRequest[],
): Promise<{
  normal: Awaited<ReturnType<typeof run>>;
  lean: Awaited<ReturnType<typeof run>>;
  loadedLive: string[][];
}> {
  const normal = await loadPipeline(location, { intraOpThreads: 1, ...options });
  const lean = await loadPipeline(location, { intraOpThreads: 1, ...options, lowMemory: true });
  try {
    const loadedLive = [[...normal.liveSessions()], [...lean.liveSessions()]];
    return { normal: await run(normal, requests), lean: await run(lean, requests), loadedLive };
  } finally {
    await Promise.all([normal.dispose(), lean.dispose()]);
  }
}

const everyStep = (states: readonly string[][], expected: readonly string[]): void => {
  assert.ok(states.length > 0);
  for (const live of states) assert.deepEqual(live, expected);
};

test('SD 1.x checkpoint: sessions made on first use; low memory keeps only the one in use, same images', async () => {
  const txt2img = { prompt: 'a red circle', seed: 7, steps: 3, width: 64, height: 64 };
  // With the optimized-model cache, as a server runs: low memory's second batch creates its
  // sessions again from it.
  const cached = { cacheDir: path.join(dir, 'cache') };
  const { normal, lean, loadedLive } = await both(TINY_SD1_CKPT, cached, [txt2img, txt2img]);
  assert.deepEqual(loadedLive, [[], []], 'loading creates no session');
  // The default mode keeps what it created; txt2img never creates the VAE encoder.
  assert.deepEqual(normal.after, [
    ['unet', 'text_encoder', 'vae_decoder'],
    ['unet', 'text_encoder', 'vae_decoder'],
  ]);
  // Low memory: during the steps only the denoiser holds weights, and nothing between batches.
  everyStep(lean.duringSteps, ['unet']);
  assert.deepEqual(lean.after, [[], []]);
  assert.equal(lean.images.length, 2);
  for (const [index, image] of lean.images.entries()) {
    assert.ok(image.equals(normal.images[index]!), `image ${index}: bit-identical`);
  }
  assert.ok(lean.images[1]!.equals(lean.images[0]!), 'sessions created again: same image');

  // img2img needs the VAE encoder: created then, and released again in low memory.
  const init = normal.images[0]!;
  const img2img = { ...txt2img, prompt: 'a blue square', steps: 4, initImage: init, strength: 0.5 };
  const second = await both(TINY_SD1_CKPT, cached, [img2img]);
  assert.deepEqual(second.normal.after, [['unet', 'text_encoder', 'vae_decoder', 'vae_encoder']]);
  everyStep(second.lean.duringSteps, ['unet']);
  assert.deepEqual(second.lean.after, [[]]);
  assert.ok(second.lean.images[0]!.equals(second.normal.images[0]!), 'img2img: bit-identical');
  const entries = await readdir(path.join(dir, 'cache', 'optimized'));
  assert.equal(entries.length, 4, 'one cache entry per component, shared by both modes');
});

test('SD 3.5 file (CLIP-L + CLIP-G, MMDiT): the same in low memory, through its own text join', async () => {
  const request = { prompt: 'a green triangle', seed: 11, steps: 2, width: 32, height: 32 };
  const { normal, lean } = await both(
    path.join(CHECKPOINTS, 'tiny-sd35-large.safetensors'),
    { checkpoint: { tokenizerDir, textHeadDims: [8, 16] } },
    [request],
  );
  assert.deepEqual(normal.after, [['unet', 'text_encoder', 'text_encoder_2', 'vae_decoder']]);
  everyStep(lean.duringSteps, ['unet']);
  assert.deepEqual(lean.after, [[]]);
  assert.ok(lean.images[0]!.equals(normal.images[0]!), 'bit-identical');
});

test('ONNX folder (the bundled tiny model): lazy sessions and low memory through the same parts', async () => {
  const request = { prompt: 'a yellow triangle on a black background', seed: 5, steps: 3 };
  const { normal, lean, loadedLive } = await both(path.join(MODELS, 'tiny'), {}, [request]);
  assert.deepEqual(loadedLive, [[], []]);
  assert.deepEqual(normal.after, [['unet', 'text_encoder', 'vae_decoder']]);
  everyStep(lean.duringSteps, ['unet']);
  assert.deepEqual(lean.after, [[]]);
  assert.ok(lean.images[0]!.equals(normal.images[0]!), 'bit-identical');
});
