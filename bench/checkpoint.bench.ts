// `npm run bench:checkpoint` (also run by `npm run bench:engine`): a single-file `.safetensors`
// compiled in-process vs the same weights exported as a diffusers ONNX folder, and vs
// stable-diffusion.cpp on the same file (issue #10's measurements).
//
// The weights are the random SD 1.5-architecture model of ../shared/perf/ (4 GB, never committed):
//   PICTOR_BENCH_SD15=DIR   with DIR/sd15-random.safetensors and DIR/sd15-random-onnx/
//   PICTOR_BENCH_SDCPP=FILE the stable-diffusion.cpp `sd-cli` binary (optional)
// Every measurement runs in a child process of its own, so its peak RSS and cold start are its own.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,512' },
    steps: { type: 'string', default: '4' },
    runs: { type: 'string', default: '2' },
    child: { type: 'string' },
    size: { type: 'string' },
    'cache-dir': { type: 'string' },
  },
});
const steps = Number(values.steps);
const runs = Number(values.runs);

/** Child: load `--child` (a file or folder), then time generations at `--size`. Prints one JSON line. */
async function child(source: string): Promise<void> {
  const { loadPipeline } = await import('../src/engine/index.ts');
  const size = Number(values.size);
  const started = performance.now();
  const cacheDir = values['cache-dir'];
  const pipeline = await loadPipeline(source, {
    intraOpThreads: 2,
    ...(cacheDir ? { cacheDir } : {}),
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
  const first = performance.now();
  await pipeline.generate(request);
  const firstImageMs = performance.now() - started;
  const firstRunMs = performance.now() - first;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await pipeline.generate({ ...request, seed: 43 + i });
    times.push(performance.now() - t);
  }
  await pipeline.dispose();
  console.log(
    JSON.stringify({
      loadedMs,
      firstImageMs,
      firstRunMs,
      times,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    }),
  );
}

interface ChildResult {
  readonly loadedMs: number;
  readonly firstImageMs: number;
  readonly firstRunMs: number;
  readonly times: number[];
  readonly peakRssMb: number;
}

function runChild(source: string, size: number, cacheDir?: string): ChildResult | string {
  const args = [import.meta.filename, '--child', source, '--size', String(size)];
  args.push('--steps', String(steps), '--runs', String(runs));
  if (cacheDir) args.push('--cache-dir', cacheDir);
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  if (result.status !== 0 || !line.startsWith('{')) {
    return (
      result.stderr
        .trim()
        .split('\n')
        .find((l) => /Error/.test(l)) ?? 'failed'
    ).slice(0, 200);
  }
  return JSON.parse(line) as ChildResult;
}

function runSdCpp(binary: string, file: string, size: number): ChildResult | string {
  const times: number[] = [];
  let peakRssMb = 0;
  let firstImageMs = 0;
  const out = mkdtempSync(path.join(tmpdir(), 'pictor-sdcpp-'));
  for (let i = 0; i <= runs; i++) {
    const started = performance.now();
    const result = spawnSync(
      '/usr/bin/time',
      ['-v', binary, '-m', file, '-p', 'a red circle on a blue background', '-W', String(size)]
        .concat(['-H', String(size), '--steps', String(steps), '--cfg-scale', '7.5'])
        .concat(['--sampling-method', 'euler', '-t', '2', '-s', String(42 + i)])
        .concat(['-o', path.join(out, 'out.png')]),
      { encoding: 'utf8' },
    );
    const elapsed = performance.now() - started;
    if (result.status !== 0) return `sd-cli failed: ${result.stderr.slice(-200)}`;
    const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
    peakRssMb = Math.max(peakRssMb, Number(rss?.[1] ?? 0) / 1024);
    if (i === 0) firstImageMs = elapsed;
    else times.push(elapsed);
  }
  rmSync(out, { recursive: true, force: true });
  return { loadedMs: NaN, firstImageMs, firstRunMs: NaN, times, peakRssMb };
}

const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const s = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-');

function main(): void {
  const dir = process.env['PICTOR_BENCH_SD15'];
  if (!dir || !existsSync(path.join(dir, 'sd15-random.safetensors'))) {
    console.log(
      'checkpoint bench: skipped (set PICTOR_BENCH_SD15 to the folder made by ../shared/perf/make_sd15_bench_model.py)',
    );
    return;
  }
  const file = path.join(dir, 'sd15-random.safetensors');
  const onnx = path.join(dir, 'sd15-random-onnx');
  const sdcpp = process.env['PICTOR_BENCH_SDCPP'];
  console.log(
    `checkpoint bench: SD 1.5 architecture, random weights, ${steps} steps, guidance 7.5, euler, ` +
      `median of ${runs} runs after a first image, node ${process.version}\n`,
  );
  console.log(
    ['variant', 'size', 's/image', 'load s', 'file→first image s', 'peak RSS MB'].join('\t'),
  );
  for (const size of values.sizes.split(',').map(Number)) {
    // The 1st start optimizes each component and saves ORT's result in a fresh cache dir; the 2nd
    // loads those (docs/checkpoint-graphs.md, "Cold start"). The cache is removed afterwards.
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'pictor-bench-cache-'));
    const variants: [string, () => ChildResult | string][] = [
      ['onnx folder', () => runChild(onnx, size)],
      ['checkpoint, 1st start', () => runChild(file, size, cacheDir)],
      ['checkpoint, 2nd start', () => runChild(file, size, cacheDir)],
    ];
    if (sdcpp && existsSync(sdcpp)) {
      variants.push(['stable-diffusion.cpp', () => runSdCpp(sdcpp, file, size)]);
    }
    for (const [label, run] of variants) {
      const r = run();
      if (typeof r === 'string') {
        console.log(`${label}\t${size}\t(failed: ${r})`);
        continue;
      }
      console.log(
        [
          label,
          size,
          s(median(r.times)),
          s(r.loadedMs),
          s(r.firstImageMs),
          r.peakRssMb.toFixed(0),
        ].join('\t'),
      );
    }
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

if (values.child) await child(values.child);
else main();
