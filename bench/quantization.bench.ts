// `npm run bench:quantization` (also run by `npm run bench:engine`): SD 1.5 at real size with
// random weights, fp32 vs int8 vs int4 weights (issue #12): time per image, UNet time, peak RSS,
// load time when the quantized weights are computed (1st start) and when they are reused (2nd),
// and the accuracy cost as the UNet output's error against fp32 for the same inputs.
//
//   PICTOR_BENCH_SD15=DIR   with DIR/sd15-random.safetensors (../shared/perf/make_sd15_bench_model.py)
// Every measurement runs in a child process of its own, so its peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { WeightQuantization } from '../src/engine/index.ts';
import {
  interleave,
  loadAverage,
  loadRange,
  median,
  minMedian,
  seconds,
} from './interleaved-samples.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256' },
    quantizations: { type: 'string', default: 'none,int8,int4' },
    steps: { type: 'string', default: '4' },
    runs: { type: 'string', default: '2' },
    // Turns over the quantizations of the UNet-alone part.
    rounds: { type: 'string', default: '2' },
    child: { type: 'string' },
    accuracy: { type: 'string' },
    size: { type: 'string' },
    quantization: { type: 'string' },
    cache: { type: 'string' },
    'unet-only': { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps);
const runs = Number(values.runs);

interface ChildResult {
  readonly loadedMs: number;
  readonly times: number[];
  readonly unetMs: number[];
  readonly peakRssMb: number;
}

/** Child: load with `--quantization`, then time generations at `--size`. Prints one JSON line. */
async function child(file: string): Promise<void> {
  const { loadPipeline } = await import('../src/engine/index.ts');
  const size = Number(values.size);
  const started = performance.now();
  const pipeline = await loadPipeline(file, {
    intraOpThreads: 2,
    quantization: values.quantization as WeightQuantization,
    ...(values.cache ? { cacheDir: values.cache } : {}),
  });
  const loadedMs = performance.now() - started;
  const request = {
    prompt: 'a red circle on a blue background',
    width: size,
    height: size,
    steps,
    guidanceScale: 7.5,
    scheduler: 'euler' as const,
    seed: 42,
  };
  await pipeline.generate(request); // warm-up: the first run at a shape plans memory
  const times: number[] = [];
  const unetMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const result = await pipeline.generate({ ...request, seed: 43 + i });
    times.push(performance.now() - t);
    unetMs.push(result.timings.unet);
  }
  await pipeline.dispose();
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ loadedMs, times, unetMs, peakRssMb } satisfies ChildResult));
}

interface UnetResult {
  readonly quantizeMs: number;
  readonly reused: boolean;
  readonly sessionMs: number;
  /** Per image size: one step's times after the first (which plans memory). */
  readonly runMs: Record<string, number[]>;
  readonly peakRssMb: number;
  readonly load: number;
}

/**
 * Child: the UNet alone (batch 2 for guidance, fixed inputs, t=500) under `--quantization`:
 * time to compute (or reuse) the quantized weights, to create the session (with ORT's optimized
 * model cached under `--cache`, as the server does: the first start optimizes and saves, later
 * ones load it), and one step at each of `--sizes`; writes the first size's output as float32
 * bytes to `--accuracy`.
 */
async function unetChild(file: string): Promise<void> {
  const { readCheckpoint } = await import('../src/engine/checkpoint/read-checkpoint.ts');
  const { buildUnet, buildTextEncoder } = await import('../src/engine/checkpoint/graphs/index.ts');
  const { quantizeGraph } = await import('../src/engine/quantize/quantize-graph.ts');
  const { OnnxModel } = await import('../src/engine/onnx/onnx-model.ts');
  const { createCompiledModel } = await import('../src/engine/onnx/compiled-model.ts');
  const { GaussianNoise } = await import('../src/engine/random/gaussian-noise.ts');
  const source = await readCheckpoint(file, { preferHalf: false });
  if (!source) throw new Error(`${file} is not a checkpoint`);
  let bytes = buildUnet(source.components.unet).bytes;
  const quantization = values.quantization as WeightQuantization;
  const cache = values.cache ?? tmpdir();
  const started = performance.now();
  let reused = false;
  if (quantization !== 'none') {
    const quantized = await quantizeGraph(bytes, { quantization, cacheDir: cache, name: 'unet' });
    ({ bytes, reused } = quantized);
  }
  const quantizeMs = performance.now() - started;
  const created = performance.now();
  const unet = await createCompiledModel(bytes, 'unet', {
    intraOpThreads: 2,
    source: file,
    files: source.files,
    optimizedCacheDir: cache,
    variant: quantization,
  });
  const sessionMs = performance.now() - created;
  const noise = new GaussianNoise(7);
  const context = Float32Array.from({ length: 2 * 77 * 768 }, () => noise.nextGaussian());
  const runMs: Record<string, number[]> = {};
  let first: Float32Array | undefined;
  for (const size of values.sizes.split(',').map(Number)) {
    const side = size / 8;
    const sample = Float32Array.from({ length: 2 * 4 * side * side }, () => noise.nextGaussian());
    const times: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const t = performance.now();
      const outputs = await unet.run({
        sample: { data: sample, dims: [2, 4, side, side] },
        timestep: { data: [500, 500], dims: [2] },
        encoder_hidden_states: { data: context, dims: [2, 77, 768] },
      });
      if (i > 0) times.push(performance.now() - t); // the first run at a shape plans memory
      first ??= outputs['out_sample']?.data as Float32Array;
    }
    runMs[String(size)] = times;
  }
  const out = first ?? new Float32Array(0);
  writeFileSync(values.accuracy ?? '', new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
  await unet.dispose();
  // The random SD 1.5's UNet output is exactly zero (LDM zero-initialises every residual
  // branch's last layer and the output conv), so its error says nothing: the text encoder,
  // randomly initialised throughout, is compared too.
  const encoder = source.components.textEncoders[0];
  if (encoder) {
    let textBytes = buildTextEncoder(encoder.index).bytes;
    if (quantization !== 'none') {
      ({ bytes: textBytes } = await quantizeGraph(textBytes, {
        quantization,
        cacheDir: cache,
        name: 'text_encoder',
      }));
    }
    const text = await OnnxModel.fromBytes(textBytes, 'text_encoder', {
      intraOpThreads: 2,
      source: file,
    });
    const ids = Array.from({ length: 77 }, (_, i) =>
      i === 0 ? 49406 : i < 12 ? 400 + i * 37 : 49407,
    );
    const hidden = (await text.run({ input_ids: { data: ids, dims: [1, 77] } }))[
      'last_hidden_state'
    ]?.data as Float32Array;
    writeFileSync(
      `${values.accuracy ?? ''}.text`,
      new Uint8Array(hidden.buffer, hidden.byteOffset, hidden.byteLength),
    );
    await text.dispose();
  }
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({
      quantizeMs,
      reused,
      sessionMs,
      runMs,
      peakRssMb,
      load: loadAverage(),
    } satisfies UnetResult),
  );
}

function spawnChild(args: string[]): string {
  const result = spawnSync(process.execPath, [import.meta.filename, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr.trim().split('\n').slice(-3).join(' '));
  return result.stdout.trim().split('\n').at(-1) ?? '';
}

const s = seconds;

function main(): void {
  const dir = process.env['PICTOR_BENCH_SD15'];
  const file = dir ? path.join(dir, 'sd15-random.safetensors') : '';
  if (!existsSync(file)) {
    console.log(
      'quantization bench: skipped (set PICTOR_BENCH_SD15 to the folder made by ../shared/perf/make_sd15_bench_model.py)',
    );
    return;
  }
  const cache = mkdtempSync(path.join(tmpdir(), 'pictor-bench-quant-'));
  const quantizations = values.quantizations.split(',');
  try {
    console.log(
      `quantization bench: SD 1.5 architecture, random weights, ${steps} steps, guidance 7.5, euler, ` +
        `2 threads, median of ${runs} runs after a warm-up, node ${process.version}\n`,
    );
    const sizes = values['unet-only'] ? [] : values.sizes.split(',').map(Number);
    if (sizes.length > 0)
      console.log(
        [
          'weights',
          'size',
          's/image',
          'unet s/image',
          'load s (1st start)',
          'load s (2nd start)',
          'peak RSS MB',
        ].join('\t'),
      );
    for (const size of sizes) {
      for (const quantization of quantizations) {
        const args = ['--child', file, '--size', String(size), '--quantization', quantization];
        args.push('--cache', cache, '--steps', String(steps), '--runs', String(runs));
        try {
          // The first start computes the derived file (quantized weights), the second reuses it.
          const first = JSON.parse(spawnChild(args)) as ChildResult;
          const second = JSON.parse(spawnChild(args)) as ChildResult;
          const times = [...first.times, ...second.times];
          const unet = [...first.unetMs, ...second.unetMs];
          const rss = Math.max(first.peakRssMb, second.peakRssMb);
          console.log(
            [
              quantization,
              size,
              s(median(times)),
              s(median(unet)),
              s(first.loadedMs),
              s(second.loadedMs),
              rss.toFixed(0),
            ].join('\t'),
          );
        } catch (error) {
          console.log(
            `${quantization}\t${size}\t(failed: ${(error as Error).message.slice(0, 200)})`,
          );
        }
      }
    }
    unetAccuracy(file, cache, quantizations);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

/**
 * The UNet alone per quantization, in `rounds` turns (none, int8, int4, none, …): computing the
 * quantized weights (round 1; later rounds reuse them), creating the session (round 1 optimizes
 * and saves ORT's model, later rounds load it), one step per size, peak RSS, and the output's
 * error against fp32 for the same inputs.
 */
function unetAccuracy(file: string, cache: string, quantizations: readonly string[]): void {
  const sizes = values.sizes.split(',');
  const rounds = Number(values.rounds);
  const order = ['none', ...quantizations.filter((q) => q !== 'none')];
  const outputs = new Map<string, Float32Array>();
  const errorsOf = new Map<string, string[]>();
  console.log(
    `\nUNet alone (batch 2, t=500) at ${sizes.map((z) => `${z}²`).join(', ')}, ${rounds} rounds in turn; ` +
      'then the CLIP text encoder. Error vs fp32: mean |diff| / mean |fp32| and max |diff| / max |fp32|',
  );
  console.log(
    ['weights', 'round', 'load avg', 'quantize s', 'session s']
      .concat(
        sizes.map((z) => `step s ${z}²`),
        ['peak RSS MB', 'UNet mean/max rel'],
      )
      .concat(['text mean/max rel'])
      .join('\t'),
  );
  const samples = interleave(
    rounds,
    order.map((quantization) => [
      quantization,
      (): UnetResult | string => {
        const out = path.join(cache, `unet-${quantization}.f32`);
        const args = ['--accuracy', out, '--child', file, '--quantization', quantization];
        args.push('--cache', cache, '--runs', String(runs), '--sizes', values.sizes);
        try {
          const result = JSON.parse(spawnChild(args)) as UnetResult;
          const output = readFloats(out);
          const textOutput = readFloats(`${out}.text`);
          if (!outputs.has(quantization)) outputs.set(quantization, output);
          if (!outputs.has(`${quantization}.text`)) outputs.set(`${quantization}.text`, textOutput);
          // fp32 against itself (a later round) says nothing: `-` as in its first round.
          const reference = quantization === 'none' ? undefined : 'none';
          errorsOf.set(quantization, [
            ...errors(output, reference && outputs.get(reference)),
            ...errors(textOutput, reference && outputs.get(`${reference}.text`)),
          ]);
          return result;
        } catch (error) {
          return (error as Error).message.slice(0, 200);
        }
      },
    ]),
    (quantization, round, result) => {
      if (typeof result === 'string') {
        console.log(`${quantization}\t${round + 1}\t${loadAverage()}\t(failed: ${result})`);
        return;
      }
      const [mean, max, textMean, textMax] = errorsOf.get(quantization) ?? [];
      console.log(
        [
          quantization,
          round + 1,
          result.load,
          quantization === 'none' ? '-' : result.reused ? 'reused' : s(result.quantizeMs),
          s(result.sessionMs),
        ]
          .concat(sizes.map((z) => (result.runMs[z] ?? []).map(s).join(',')))
          .concat([result.peakRssMb.toFixed(0), `${mean} / ${max}`, `${textMean} / ${textMax}`])
          .join('\t'),
      );
    },
  );
  console.log(
    `\n| weights | quantize s | session s, 1st start | session s, later | ` +
      sizes.map((z) => `step s ${z}² min / median`).join(' | ') +
      ' | peak RSS MB | load avg |',
  );
  console.log(`|---|---|---|---|${sizes.map(() => '---|').join('')}---|---|`);
  for (const [quantization, results] of samples) {
    const ok = results.filter((r): r is UnetResult => typeof r !== 'string');
    const firstStart = ok.find((r) => !r.reused || quantization === 'none');
    const quantize = ok.find((r) => !r.reused);
    const row = [
      quantization,
      quantization === 'none' || !quantize ? '-' : s(quantize.quantizeMs),
      firstStart ? s(firstStart.sessionMs) : '-',
      minMedian(ok.slice(1).map((r) => r.sessionMs)),
      ...sizes.map((z) => minMedian(ok.flatMap((r) => r.runMs[z] ?? []))),
      ok.length ? Math.max(...ok.map((r) => r.peakRssMb)).toFixed(0) : '-',
      loadRange(ok.map((r) => r.load)),
    ];
    console.log(`| ${row.join(' | ')} |`);
  }
}

function readFloats(file: string): Float32Array {
  const bytes = readFileSync(file);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

function errors(output: Float32Array, reference: Float32Array | undefined): [string, string] {
  if (!reference || reference === output) return ['-', '-'];
  if (reference.every((value) => value === 0)) return ['(fp32 output is 0)', '-'];
  let diff = 0;
  let scale = 0;
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs((output[i] as number) - (reference[i] as number));
    diff += d;
    scale += Math.abs(reference[i] as number);
    maxDiff = Math.max(maxDiff, d);
    maxRef = Math.max(maxRef, Math.abs(reference[i] as number));
  }
  return [(diff / scale).toExponential(2), (maxDiff / maxRef).toExponential(2)];
}

if (values.accuracy && values.child) await unetChild(values.child);
else if (values.child) await child(values.child);
else main();
