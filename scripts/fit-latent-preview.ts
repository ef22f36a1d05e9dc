// Fits the cheap step-preview projection (latent channels → RGB) of a model by least squares on
// synthetic shape images, and with --write stores it in the model's pictor.json.
//   node scripts/fit-latent-preview.ts models/tiny [--write]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { COLOURS, renderScene, SHAPES } from '../eval/tiny-world.ts';
import { readModelManifest } from '../src/engine/model/model-manifest.ts';
import { ComponentSession } from '../src/engine/onnx/component-session.ts';
import { OnnxModel } from '../src/engine/onnx/onnx-model.ts';
import { Vae } from '../src/engine/pipeline/vae.ts';
import { GaussianNoise } from '../src/engine/random/gaussian-noise.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    write: { type: 'boolean', default: false },
    images: { type: 'string', default: '96' },
  },
});
const dir = path.resolve(positionals[0] ?? 'models/tiny');
const manifest = await readModelManifest(dir);
if (!manifest.files.vaeEncoder) throw new Error(`${dir} has no vae_encoder to fit with`);
const { vaeDecoder, vaeEncoder } = manifest.files;
const encoder = new ComponentSession('vae_encoder', () =>
  OnnxModel.load(vaeEncoder, 'vae_encoder', {}),
);
const decoder = new ComponentSession('vae_decoder', () =>
  OnnxModel.load(vaeDecoder, 'vae_decoder', {}),
);
const vae = new Vae(decoder, encoder, manifest.scalingFactor, manifest.shiftFactor);

const size = 64;
const count = Number(values.images);
const random = new GaussianNoise(2024);
const pick = <T>(items: readonly T[]): T => items[random.nextUint32() % items.length] as T;
const images = Array.from({ length: count }, () => {
  const fg = pick(COLOURS);
  const bg = pick(COLOURS.filter((c) => c !== fg));
  const r = 10 + (random.nextUint32() % 15);
  const cx = r + 4 + (random.nextUint32() % (size - 2 * r - 8));
  const cy = r + 4 + (random.nextUint32() % (size - 2 * r - 8));
  return renderScene({ fg, bg, shape: pick(SHAPES), cx, cy, r }, size);
});
const plane = size * size;
const pixels = new Float32Array(count * 3 * plane);
images.forEach((rgb, b) => {
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) pixels[(b * 3 + c) * plane + p] = (rgb[p * 3 + c] ?? 0) / 127.5 - 1;
  }
});
const channels = manifest.latentChannels;
const latents = await vae.encode(pixels, [count, 3, size, size], channels);
const side = size / manifest.vaeScaleFactor;
const cell = manifest.vaeScaleFactor;

// Normal equations AᵀA w = Aᵀy over every latent cell, with a constant column for the bias.
const k = channels + 1;
const ata = Array.from({ length: k }, () => new Float64Array(k));
const aty = Array.from({ length: k }, () => new Float64Array(3));
for (let b = 0; b < count; b++) {
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const row = new Float64Array(k);
      for (let c = 0; c < channels; c++)
        row[c] = latents[((b * channels + c) * side + y) * side + x] ?? 0;
      row[channels] = 1;
      const target = [0, 0, 0];
      for (let dy = 0; dy < cell; dy++) {
        for (let dx = 0; dx < cell; dx++) {
          const p = (y * cell + dy) * size + x * cell + dx;
          for (let c = 0; c < 3; c++)
            target[c]! += (pixels[(b * 3 + c) * plane + p] ?? 0) / (cell * cell);
        }
      }
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) ata[i]![j]! += row[i]! * row[j]!;
        for (let c = 0; c < 3; c++) aty[i]![c]! += row[i]! * target[c]!;
      }
    }
  }
}
// Gauss–Jordan elimination on [AᵀA | Aᵀy].
for (let i = 0; i < k; i++) {
  let pivot = i;
  for (let r = i + 1; r < k; r++) if (Math.abs(ata[r]![i]!) > Math.abs(ata[pivot]![i]!)) pivot = r;
  [ata[i], ata[pivot]] = [ata[pivot]!, ata[i]!];
  [aty[i], aty[pivot]] = [aty[pivot]!, aty[i]!];
  for (let r = 0; r < k; r++) {
    if (r === i) continue;
    const f = ata[r]![i]! / ata[i]![i]!;
    for (let j = 0; j < k; j++) ata[r]![j]! -= f * ata[i]![j]!;
    for (let c = 0; c < 3; c++) aty[r]![c]! -= f * aty[i]![c]!;
  }
}
const round = (x: number): number => Math.round(x * 1e4) / 1e4;
const solution = aty.map(
  (row, i) => Array.from(row, (v) => round(v / ata[i]![i]!)) as [number, number, number],
);
const factors = solution.slice(0, channels);
const bias = solution[channels]!;
console.log(JSON.stringify({ latentRgbFactors: factors, latentRgbBias: bias }));

if (values.write) {
  const file = path.join(dir, 'pictor.json');
  const current = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)
    : {};
  writeFileSync(
    file,
    `${JSON.stringify({ ...current, latentRgbFactors: factors, latentRgbBias: bias }, null, 2)}\n`,
  );
  console.log(`wrote ${file}`);
}
await encoder.release();
await decoder.release();
