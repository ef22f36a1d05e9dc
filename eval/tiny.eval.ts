// `npm run eval:tiny`: how well the bundled `tiny` model follows prompts, measured through
// Pictor's own TypeScript engine. Goals (issue #3): foreground and background colour ≥ 90 %,
// shape ≥ 70 % over the whole grid; ≥ 80 % foreground colour for every scheduler at 20 steps;
// img2img recolours; inpainting keeps the unmasked area and follows the prompt in the masked one.
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import {
  loadPipeline,
  SCHEDULER_NAMES,
  type BatchItem,
  type SchedulerName,
} from '../src/engine/index.ts';
import {
  classify,
  COLOURS,
  PALETTE,
  promptFor,
  renderScene,
  SHAPES,
  type Colour,
  type Shape,
} from './tiny-world.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '4' },
    steps: { type: 'string', default: '20' },
    // The model's defaults, set as `models.list[].overrides` would set them in pictor.yaml (so
    // img2img and inpainting below use them too).
    guidance: { type: 'string' },
    scheduler: { type: 'string' },
    batch: { type: 'string', default: '8' },
    'scheduler-prompts': { type: 'string', default: '48' },
    quick: { type: 'boolean', default: false },
    // Another model of the same world (a `.safetensors` checkpoint), optionally quantized.
    model: { type: 'string' },
    quantization: { type: 'string', default: 'none' },
  },
});
const seedsPerCase = Number(values.seeds);
const batchSize = Number(values.batch);
const quantization = values.quantization;
if (quantization !== 'none' && quantization !== 'int8' && quantization !== 'int4') {
  throw new Error(`--quantization: none, int8 or int4, got ${quantization}`);
}
const isScheduler = (name: string): name is SchedulerName =>
  (SCHEDULER_NAMES as readonly string[]).includes(name);
const defaultScheduler = values.scheduler;
if (defaultScheduler !== undefined && !isScheduler(defaultScheduler)) {
  throw new Error(`--scheduler: one of ${SCHEDULER_NAMES.join(', ')}, got ${defaultScheduler}`);
}
const pipeline = await loadPipeline(
  values.model ?? process.env['TINY_DIR'] ?? path.join(import.meta.dirname, '../models/tiny'),
  {
    overrides: {
      // The world is 64×64; a checkpoint's native size would be its family's (SD 1.x: 512).
      width: 64,
      height: 64,
      ...(values.guidance === undefined ? {} : { guidanceScale: Number(values.guidance) }),
      ...(defaultScheduler === undefined ? {} : { scheduler: defaultScheduler }),
    },
    quantization,
  },
);
const guidance = pipeline.manifest.defaults.guidanceScale;
const pct = (hits: number, total: number): string =>
  `${((100 * hits) / Math.max(total, 1)).toFixed(1)}%`;

interface Case {
  readonly fg: Colour;
  readonly bg: Colour;
  readonly shape: Shape;
  readonly seed: number;
}

async function decode(data: Buffer): Promise<Uint8Array> {
  return new Uint8Array(await sharp(data).removeAlpha().raw().toBuffer());
}

async function runCases(
  cases: readonly Case[],
  scheduler: SchedulerName | undefined,
  steps: number,
) {
  const scores = { fg: 0, bg: 0, shape: 0, total: 0 };
  const confusion = new Map<string, number>();
  const bgConfusion = new Map<string, number>();
  for (let i = 0; i < cases.length; i += batchSize) {
    const chunk = cases.slice(i, i + batchSize);
    const items: BatchItem[] = chunk.map((c) => ({
      prompt: promptFor(c.fg, c.shape, c.bg),
      seed: c.seed,
      steps,
      guidanceScale: guidance,
      ...(scheduler ? { scheduler } : {}),
    }));
    const result = await pipeline.generateBatch(items);
    for (const [index, image] of result.images.entries()) {
      const expected = chunk[index]!;
      const got = classify(await decode(image.data));
      scores.total += 1;
      if (got.fg === expected.fg) scores.fg += 1;
      else
        confusion.set(
          `${expected.fg}→${got.fg ?? 'none'}`,
          (confusion.get(`${expected.fg}→${got.fg ?? 'none'}`) ?? 0) + 1,
        );
      if (got.bg === expected.bg) scores.bg += 1;
      else {
        const key = `${expected.bg}→${got.bg}`;
        bgConfusion.set(key, (bgConfusion.get(key) ?? 0) + 1);
      }
      if (got.shape === expected.shape) scores.shape += 1;
    }
  }
  return { ...scores, confusion, bgConfusion };
}

function grid(seeds: number): Case[] {
  const cases: Case[] = [];
  for (const fg of COLOURS) {
    for (const bg of COLOURS) {
      if (fg === bg) continue;
      for (const shape of SHAPES)
        for (let s = 0; s < seeds; s++) cases.push({ fg, bg, shape, seed: 1000 + s });
    }
  }
  return cases;
}

const started = performance.now();
const full = grid(values.quick ? 1 : seedsPerCase);
const main = await runCases(full, undefined, Number(values.steps));
console.log(
  `${pipeline.name} eval (quantization ${quantization}): ${full.length} images (${COLOURS.length} colours × ${COLOURS.length - 1} backgrounds × ${SHAPES.length} shapes × ${values.quick ? 1 : seedsPerCase} seeds), default scheduler (${pipeline.manifest.defaultScheduler}), ${values.steps} steps, guidance ${guidance}`,
);
console.log(
  `  foreground colour: ${pct(main.fg, main.total)}   background colour: ${pct(main.bg, main.total)}   shape: ${pct(main.shape, main.total)}`,
);
const top = (confusion: ReadonlyMap<string, number>): string =>
  [...confusion.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ') || 'none';
console.log(`  top foreground confusions: ${top(main.confusion)}`);
console.log(`  top background confusions: ${top(main.bgConfusion)}`);

// A fixed, evenly spread subset for the per-scheduler runs.
const stride = Math.max(1, Math.floor(full.length / Number(values['scheduler-prompts'])));
const subset = full
  .filter((_, i) => i % stride === 0)
  .slice(0, Number(values['scheduler-prompts']));
console.log(`\nper scheduler (${subset.length} images each):`);
for (const scheduler of SCHEDULER_NAMES) {
  const steps = 20;
  const score = await runCases(subset, scheduler, steps);
  console.log(
    `  ${scheduler.padEnd(16)} ${steps} steps: foreground ${pct(score.fg, score.total)}, background ${pct(score.bg, score.total)}, shape ${pct(score.shape, score.total)}`,
  );
}
const fast = await runCases(subset, 'euler', 4);
console.log(
  `  ${'euler'.padEnd(16)} 4 steps: foreground ${pct(fast.fg, fast.total)}, background ${pct(fast.bg, fast.total)}, shape ${pct(fast.shape, fast.total)}`,
);

// img2img: a red circle repainted blue at strength 0.7.
const png = async (rgb: Uint8Array): Promise<Buffer> =>
  sharp(rgb, { raw: { width: 64, height: 64, channels: 3 } })
    .png()
    .toBuffer();
let recoloured = 0;
const img2imgCases = COLOURS.filter((bg) => bg !== 'red' && bg !== 'blue');
for (const bg of img2imgCases) {
  const init = await png(renderScene({ fg: 'red', bg, shape: 'circle', cx: 32, cy: 32, r: 18 }));
  const result = await pipeline.generate({
    prompt: promptFor('blue', 'circle', bg),
    initImage: init,
    strength: 0.7,
    seed: 5,
    steps: 20,
  });
  if (classify(await decode(result.images[0]!.data)).fg === 'blue') recoloured += 1;
}
console.log(
  `\nimg2img: red circle + "a blue circle on a … background", strength 0.7 → blue in ${recoloured}/${img2imgCases.length}`,
);

// Inpainting: a plain background, the centre masked, a shape asked for.
let kept = 0;
let followed = 0;
const inpaintCases = COLOURS.filter((c) => c !== 'white').map((fg): { fg: Colour; bg: Colour } => ({
  fg,
  bg: 'white',
}));
const inMask = (x: number, y: number): boolean => x >= 12 && x < 52 && y >= 12 && y < 52;
const maskRgb = new Uint8Array(64 * 64 * 3);
for (let p = 0; p < 64 * 64; p++)
  if (inMask(p % 64, Math.floor(p / 64))) maskRgb.fill(255, p * 3, p * 3 + 3);
const mask = await png(maskRgb);
for (const { fg, bg } of inpaintCases) {
  const initRgb = renderScene({ fg: bg, bg, shape: 'square', cx: 32, cy: 32, r: 1 });
  const result = await pipeline.generate({
    prompt: promptFor(fg, 'circle', bg),
    initImage: await png(initRgb),
    mask,
    seed: 9,
    steps: 20,
  });
  const out = await decode(result.images[0]!.data);
  let unchanged = true;
  for (let p = 0; p < 64 * 64; p++) {
    if (inMask(p % 64, Math.floor(p / 64))) continue;
    for (let c = 0; c < 3; c++) if (out[p * 3 + c] !== initRgb[p * 3 + c]) unchanged = false;
  }
  if (unchanged) kept += 1;
  if (classify(out, 64, inMask).fg === fg) followed += 1;
}
console.log(
  `inpainting: unmasked area unchanged in ${kept}/${inpaintCases.length}; masked area has the prompt's colour in ${followed}/${inpaintCases.length}`,
);
console.log(
  `\n(${((performance.now() - started) / 1000).toFixed(0)} s; palette: ${Object.keys(PALETTE).join(', ')})`,
);
await pipeline.dispose();
