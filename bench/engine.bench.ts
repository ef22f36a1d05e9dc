// `npm run bench:engine`: where the engine's time goes, per fixture and size.
// Goals (issue #2): per-step overhead outside ONNX Runtime < 1 ms at 64×64 latents; a 512² PNG
// with metadata encoded in < 20 ms; batch 4 gives more images/s than batch 1.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { encodeImage } from '../src/engine/image/encode-image.ts';
import { loadPipeline, type GenerateResult } from '../src/engine/index.ts';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'sd15,optimum,fp16,lcm,inpaint,sdxl,tiny' },
    sizes: { type: 'string', default: '64,256,512' },
    steps: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
  },
});
const root = path.join(import.meta.dirname, '..');
const steps = Number(values.steps);
const runs = Number(values.runs);
const modelDir = (name: string): string =>
  name === 'tiny' ? path.join(root, 'models/tiny') : path.join(root, 'test/fixtures/models', name);

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (x: number, digits = 2): string => x.toFixed(digits);

console.log(`engine bench: ${steps} steps, median of ${runs} runs, node ${process.version}\n`);
console.log(
  [
    'model',
    'size',
    'latent',
    'batch',
    'ms/image',
    'ort ms/image',
    'overhead ms/step',
    'encode ms/image',
    'images/s',
  ].join('\t'),
);
for (const name of values.models.split(',')) {
  if (!existsSync(modelDir(name))) {
    console.log(`${name}\t(skipped: ${modelDir(name)} not found)`);
    continue;
  }
  const pipeline = await loadPipeline(modelDir(name));
  const scale = pipeline.manifest.vaeScaleFactor;
  for (const size of values.sizes.split(',').map(Number)) {
    const imagesPerSecond: Record<number, number> = {};
    for (const batch of [1, 4]) {
      const request = {
        prompt: 'a red circle on a blue background',
        width: size,
        height: size,
        steps,
        n: batch,
        seed: 1,
      };
      await pipeline.generate(request); // warm-up: first run at a shape plans memory
      const results: GenerateResult[] = [];
      for (let i = 0; i < runs; i++) results.push(await pipeline.generate(request));
      const perImage = (pick: (r: GenerateResult) => number): number =>
        median(results.map(pick)) / batch;
      const ort = (r: GenerateResult): number =>
        r.timings.textEncoder +
        r.timings.unet +
        r.timings.vaeDecoder +
        r.timings.vaeEncoder +
        r.timings.safetyChecker;
      const wall = perImage((r) => r.timings.total);
      imagesPerSecond[batch] = 1000 / wall;
      console.log(
        [
          name,
          `${size}²`,
          `${size / scale}²`,
          batch,
          fmt(wall),
          fmt(perImage(ort)),
          fmt(median(results.map((r) => r.timings.stepOverhead / steps)), 3),
          fmt(perImage((r) => r.timings.imageEncode)),
          fmt(imagesPerSecond[batch] ?? 0),
        ].join('\t'),
      );
    }
    const gain = (imagesPerSecond[4] ?? 0) / (imagesPerSecond[1] ?? 1);
    console.log(`${name}\t${size}²\tbatch 4 vs 1: ${fmt(gain)}× images/s`);
  }
  await pipeline.dispose();
}

// PNG encoding of a 512² image with both metadata chunks, on a noisy image (the worst case).
const rgb = new Uint8Array(512 * 512 * 3).map((_, i) => (i * 2654435761) >>> 24);
const times: number[] = [];
for (let i = 0; i < 20; i++) {
  const started = performance.now();
  await encodeImage(rgb, 512, 512, {
    format: 'png',
    quality: 90,
    infotext: 'a red circle\nSteps: 20',
    json: '{}',
  });
  times.push(performance.now() - started);
}
console.log(
  `\n512² PNG + metadata encode: median ${fmt(median(times))} ms, max ${fmt(Math.max(...times))} ms (noise image)`,
);
