// Fast checks that the bundled `tiny` model draws what it is asked, through the TypeScript
// engine; the full grid is `npm run eval:tiny`.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { loadPipeline, type DiffusionPipeline } from '../../src/engine/index.ts';
import {
  classify,
  promptFor,
  renderScene,
  type Colour,
  type Shape,
} from '../../eval/tiny-world.ts';

let pipeline: DiffusionPipeline;
before(async () => {
  pipeline = await loadPipeline(path.join(import.meta.dirname, '../../models/tiny'));
});
after(() => pipeline?.dispose());

const decode = async (data: Buffer): Promise<Uint8Array> =>
  new Uint8Array(await sharp(data).removeAlpha().raw().toBuffer());
const png = (rgb: Uint8Array): Promise<Buffer> =>
  sharp(rgb, { raw: { width: 64, height: 64, channels: 3 } })
    .png()
    .toBuffer();

test('the tiny model is the 64×64 default and draws the prompt’s colours and shape', async () => {
  assert.deepEqual([pipeline.manifest.defaults.width, pipeline.manifest.defaults.height], [64, 64]);
  const cases: [Colour, Shape, Colour][] = [
    ['red', 'circle', 'blue'],
    ['yellow', 'square', 'black'],
    ['green', 'triangle', 'white'],
    ['purple', 'square', 'orange'],
  ];
  const result = await pipeline.generateBatch(
    cases.map(([fg, shape, bg], i) => ({
      prompt: promptFor(fg, shape, bg),
      seed: 40 + i,
      steps: 20,
    })),
  );
  let shapesRight = 0;
  for (const [index, image] of result.images.entries()) {
    const [fg, shape, bg] = cases[index]!;
    const got = classify(await decode(image.data));
    assert.equal(got.fg, fg, `foreground of "${promptFor(fg, shape, bg)}"`);
    assert.equal(got.bg, bg, `background of "${promptFor(fg, shape, bg)}"`);
    if (got.shape === shape) shapesRight += 1;
  }
  assert.ok(shapesRight >= 3, `shapes right: ${shapesRight}/4`);
});

test('img2img: a red circle with prompt "a blue circle …" at strength 0.7 comes out blue', async () => {
  const init = await png(
    renderScene({ fg: 'red', bg: 'white', shape: 'circle', cx: 30, cy: 34, r: 18 }),
  );
  const result = await pipeline.generate({
    prompt: promptFor('blue', 'circle', 'white'),
    initImage: init,
    strength: 0.7,
    seed: 5,
    steps: 20,
  });
  const got = classify(await decode(result.images[0]!.data));
  assert.equal(got.fg, 'blue');
  assert.equal(got.bg, 'white');
});

test('inpainting keeps the unmasked area and paints the prompt into the masked one', async () => {
  const inMask = (x: number, y: number): boolean => x >= 12 && x < 52 && y >= 12 && y < 52;
  const initRgb = renderScene({ fg: 'black', bg: 'black', shape: 'square', cx: 32, cy: 32, r: 1 });
  const maskRgb = new Uint8Array(64 * 64 * 3);
  for (let p = 0; p < 64 * 64; p++)
    if (inMask(p % 64, Math.floor(p / 64))) maskRgb.fill(255, p * 3, p * 3 + 3);
  const result = await pipeline.generate({
    prompt: promptFor('yellow', 'circle', 'black'),
    initImage: await png(initRgb),
    mask: await png(maskRgb),
    seed: 3,
    steps: 20,
  });
  const out = await decode(result.images[0]!.data);
  for (let p = 0; p < 64 * 64; p++) {
    if (inMask(p % 64, Math.floor(p / 64))) continue;
    assert.deepEqual(
      [...out.subarray(p * 3, p * 3 + 3)],
      [...initRgb.subarray(p * 3, p * 3 + 3)],
      `pixel ${p}`,
    );
  }
  assert.equal(classify(out, 64, inMask).fg, 'yellow');
});

test('samplers other than the model’s own (ddim, pndm, lms) take SD’s settings and draw the prompt', async () => {
  for (const scheduler of ['ddim', 'pndm', 'lms'] as const) {
    const result = await pipeline.generate({
      prompt: promptFor('green', 'square', 'white'),
      seed: 11,
      steps: 20,
      scheduler,
    });
    const got = classify(await decode(result.images[0]!.data));
    assert.deepEqual([got.fg, got.bg], ['green', 'white'], scheduler);
  }
});
