// `npm run eval:tiny-flux`: how well a `tiny-flux` model (a FLUX.1-schnell-layout
// diffusers folder trained on the `tiny` world by scripts/tiny-flux/train.py) follows prompts,
// measured through Pictor's own TypeScript engine: the checkpoint compiler builds its transformer,
// T5, CLIP and VAE graphs from the safetensors files, as for a real FLUX.1 folder. The same grid
// and classifier as `npm run eval:tiny`; FLUX has no classifier-free guidance and one sampler.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadPipeline, type BatchItem } from '../src/engine/index.ts';
import {
  classify,
  COLOURS,
  promptFor,
  renderScene,
  SHAPES,
  type Colour,
  type Shape,
} from './tiny-world.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '2' },
    steps: { type: 'string', default: '16' },
    'fast-steps': { type: 'string', default: '4' },
    batch: { type: 'string', default: '8' },
    quick: { type: 'boolean', default: false },
  },
});
const batchSize = Number(values.batch);
const folder =
  process.env['TINY_FLUX_DIR'] ?? path.join(import.meta.dirname, '../models/tiny-flux');
if (!existsSync(folder)) {
  console.error(
    `${folder} does not exist: build it with /usr/bin/python3 scripts/tiny-flux/train.py SRC_DIR ` +
      '(see the script), or point TINY_FLUX_DIR at a FLUX folder trained on the tiny world',
  );
  process.exit(1);
}
const pipeline = await loadPipeline(folder);
const pct = (hits: number, total: number): string =>
  `${((100 * hits) / Math.max(total, 1)).toFixed(1)}%`;

interface Case {
  readonly fg: Colour;
  readonly bg: Colour;
  readonly shape: Shape;
  readonly seed: number;
}

async function runCases(cases: readonly Case[], steps: number) {
  const scores = { fg: 0, bg: 0, shape: 0, all: 0, total: 0 };
  for (let i = 0; i < cases.length; i += batchSize) {
    const chunk = cases.slice(i, i + batchSize);
    const items: BatchItem[] = chunk.map((c) => ({
      prompt: promptFor(c.fg, c.shape, c.bg),
      seed: c.seed,
      steps,
      width: 64,
      height: 64,
    }));
    const result = await pipeline.generateBatch(items);
    for (const [index, image] of result.images.entries()) {
      const expected = chunk[index]!;
      const got = classify(new Uint8Array(await sharp(image.data).removeAlpha().raw().toBuffer()));
      const hits = [got.fg === expected.fg, got.bg === expected.bg, got.shape === expected.shape];
      scores.total += 1;
      scores.fg += Number(hits[0]);
      scores.bg += Number(hits[1]);
      scores.shape += Number(hits[2]);
      scores.all += Number(hits.every(Boolean));
    }
  }
  return scores;
}

const started = performance.now();
const seeds = values.quick ? 1 : Number(values.seeds);
const grid: Case[] = COLOURS.flatMap((fg) =>
  COLOURS.filter((bg) => bg !== fg).flatMap((bg) =>
    SHAPES.flatMap((shape) =>
      Array.from({ length: seeds }, (_, s): Case => ({ fg, bg, shape, seed: 1000 + s })),
    ),
  ),
);
const report = (label: string, s: Awaited<ReturnType<typeof runCases>>): void => {
  console.log(
    `${label}: foreground colour ${pct(s.fg, s.total)}   background colour ${pct(s.bg, s.total)}   shape ${pct(s.shape, s.total)}   all three ${pct(s.all, s.total)}`,
  );
};
console.log(
  `tiny-flux eval: ${grid.length} images (${COLOURS.length} colours × ${COLOURS.length - 1} backgrounds × ${SHAPES.length} shapes × ${seeds} seeds), 64×64, ${pipeline.manifest.defaultScheduler}`,
);
report(`  ${values.steps} steps`, await runCases(grid, Number(values.steps)));
const subset = grid.filter((_, i) => i % 2 === 0);
report(
  `  ${values['fast-steps']} steps (schnell's default, ${subset.length} images)`,
  await runCases(subset, Number(values['fast-steps'])),
);
// img2img (flow matching: the encoded init image noised to the σ of `strength`, as diffusers'
// FluxImg2ImgPipeline does): a red circle repainted blue.
let recoloured = 0;
const img2imgCases = COLOURS.filter((bg) => bg !== 'red' && bg !== 'blue');
for (const bg of img2imgCases) {
  const init = await sharp(renderScene({ fg: 'red', bg, shape: 'circle', cx: 32, cy: 32, r: 18 }), {
    raw: { width: 64, height: 64, channels: 3 },
  })
    .png()
    .toBuffer();
  const result = await pipeline.generate({
    prompt: promptFor('blue', 'circle', bg),
    initImage: init,
    strength: 0.7,
    seed: 5,
    steps: Number(values.steps),
  });
  const got = classify(
    new Uint8Array(await sharp(result.images[0]!.data).removeAlpha().raw().toBuffer()),
  );
  if (got.fg === 'blue') recoloured += 1;
}
console.log(
  `  img2img: red circle + "a blue circle on a … background", strength 0.7 → blue in ${recoloured}/${img2imgCases.length}`,
);
console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s)`);
await pipeline.dispose();
