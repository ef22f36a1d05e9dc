// The trained single-file SD 1.x checkpoint (models/tiny-sd1-ckpt, scripts/tiny-ckpt/build.py)
// served by the real server with the ONNX engine, over real HTTP: the images it returns at the
// model's configured defaults show the prompt's colours and shape. The full 672-image grid is
// `npm run eval:tiny -- --model FILE` (docs/checkpoint-graphs.md).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import type { Pictor } from '../../src/cli/compose.ts';
import {
  classify,
  COLOURS,
  promptFor,
  SHAPES,
  type Colour,
  type Shape,
} from '../../eval/tiny-world.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

const CHECKPOINT = path.resolve(
  import.meta.dirname,
  '../../models/tiny-sd1-ckpt/tiny-sd1-ckpt.safetensors',
);

// The four scenes `tiny`'s own test draws, then one per foreground colour in palette order, its
// background three colours on and the shapes in turn: a fixed rule, not scenes picked to pass.
const CASES: readonly (readonly [Colour, Shape, Colour])[] = [
  ['red', 'circle', 'blue'],
  ['yellow', 'square', 'black'],
  ['green', 'triangle', 'white'],
  ['purple', 'square', 'orange'],
  ...COLOURS.map(
    (fg, i) => [fg, SHAPES[i % SHAPES.length]!, COLOURS[(i + 3) % COLOURS.length]!] as const,
  ),
];

let pictor: Pictor;
let base: string;
before(async () => {
  pictor = await startPictor(
    testConfig({
      PICTOR_WORKERS__ENGINE: 'onnx',
      PICTOR_WORKERS__INTRA_OP_THREADS: '1',
      PICTOR_MODELS__DEFAULT: 'tiny-sd1-ckpt',
      PICTOR_MODELS__LIST: JSON.stringify([
        {
          name: 'tiny-sd1-ckpt',
          path: CHECKPOINT,
          // A single file samples at its family's defaults (SD 1.x: euler, 20 steps, guidance
          // 7.5) but at SD's 512²; the world it learned is 64×64.
          overrides: { width: 64, height: 64 },
        },
      ]),
    }),
  );
  base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
});
after(() => pictor?.stop());

test('over HTTP, the single-file SD 1.x checkpoint draws the prompt’s colours and shape at its defaults', async (t) => {
  let fg = 0;
  let bg = 0;
  let shapes = 0;
  const misses: string[] = [];
  for (const [i, [wantFg, wantShape, wantBg]] of CASES.entries()) {
    const prompt = promptFor(wantFg, wantShape, wantBg);
    const res = await fetch(`${base}/v1/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt, seed: 40 + i }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { image: string };
    const rgb = new Uint8Array(
      await sharp(Buffer.from(body.image, 'base64')).removeAlpha().raw().toBuffer(),
    );
    const got = classify(rgb);
    if (got.fg === wantFg) fg += 1;
    if (got.bg === wantBg) bg += 1;
    if (got.shape === wantShape) shapes += 1;
    if (got.fg !== wantFg || got.bg !== wantBg || got.shape !== wantShape)
      misses.push(`"${prompt}" → ${got.fg ?? 'none'} ${got.shape ?? 'none'} on ${got.bg}`);
  }
  // The bar over the full grid is 90 / 90 / 70 %; on 12 images, 10 / 10 / 8 leave room for the
  // sample while chance (1/8 per colour, 1/3 per shape) stays far below.
  const summary = `fg ${fg}/12, bg ${bg}/12, shape ${shapes}/12; misses: ${misses.join('; ') || 'none'}`;
  t.diagnostic(summary);
  assert.ok(fg >= 10 && bg >= 10 && shapes >= 8, summary);
});
