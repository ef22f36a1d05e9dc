// `npm run bench:checkpoint` (also run by `npm run bench:engine`): a single-file `.safetensors`
// compiled in-process vs the same weights exported as a diffusers ONNX folder, and vs
// stable-diffusion.cpp on the same file (issue #10's measurements).
//
// The weights are the random SD 1.5-architecture model of ../shared/perf/ (4 GB, never committed):
//   PICTOR_BENCH_SD15=DIR   with DIR/sd15-random.safetensors and DIR/sd15-random-onnx/
//   PICTOR_BENCH_SDCPP=FILE the stable-diffusion.cpp `sd-cli` binary (optional)
// Every measurement runs in a child process of its own, so its peak RSS and cold start are its own.
// The variants run in turns (`--rounds`), so a change in the machine's load hits them alike; each
// sample is printed as it finishes with the load average, then min / median per variant.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { interleave, loadAverage, loadRange, minMedian, seconds } from './interleaved-samples.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,512' },
    steps: { type: 'string', default: '4' },
    // Images timed per Pictor process after its first (the first at a shape plans memory).
    runs: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '2' },
    // Any of: onnx, checkpoint (1st and 2nd start), sdcpp.
    variants: { type: 'string', default: 'onnx,checkpoint,sdcpp' },
    child: { type: 'string' },
    size: { type: 'string' },
    'cache-dir': { type: 'string' },
  },
});
const steps = Number(values.steps);
const runs = Number(values.runs);
const prompt = 'a red circle on a blue background';

/** One process's measurements; times in ms. */
interface Sample {
  /** File to loaded pipeline (sd.cpp: its "loading tensors" time). */
  readonly loadedMs: number;
  /** Process start of the load to the first image in hand. */
  readonly firstImageMs: number;
  /** Whole images after the first (sd.cpp: its own `generate_image` time, load excluded). */
  readonly times: number[];
  /** Of each timed image: the UNet's time inside ONNX Runtime (Pictor only). */
  readonly unetMs: number[];
  /** Of each timed image: what is outside ONNX Runtime (scheduler, copies, PNG encoding). */
  readonly outsideOrtMs: number[];
  readonly peakRssMb: number;
  readonly load: number;
}
type Result = Sample | { readonly error: string; readonly load: number };

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
    prompt,
    width: size,
    height: size,
    steps,
    guidanceScale: 7.5,
    scheduler: 'euler' as const,
    seed: 42,
  };
  await pipeline.generate(request);
  const firstImageMs = performance.now() - started;
  const times: number[] = [];
  const unetMs: number[] = [];
  const outsideOrtMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const { timings } = await pipeline.generate({ ...request, seed: 43 + i });
    times.push(performance.now() - t);
    unetMs.push(timings.unet);
    const inOrt =
      timings.textEncoder +
      timings.unet +
      timings.vaeEncoder +
      timings.vaeDecoder +
      timings.safetyChecker;
    outsideOrtMs.push(timings.total - inOrt);
  }
  await pipeline.dispose();
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({
      loadedMs,
      firstImageMs,
      times,
      unetMs,
      outsideOrtMs,
      peakRssMb,
      load: loadAverage(),
    } satisfies Sample),
  );
}

function failure(stderr: string): Result {
  const line = stderr
    .trim()
    .split('\n')
    .find((l) => /Error/.test(l));
  return {
    error: (line ?? (stderr.trim().split('\n').at(-1) || 'failed')).slice(0, 200),
    load: loadAverage(),
  };
}

function runChild(source: string, size: number, cacheDir?: string): Result {
  const args = [import.meta.filename, '--child', source, '--size', String(size)];
  args.push('--steps', String(steps), '--runs', String(runs));
  if (cacheDir) args.push('--cache-dir', cacheDir);
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  if (result.status !== 0 || !line.startsWith('{')) return failure(result.stderr);
  return JSON.parse(line) as Sample;
}

/** One sd-cli process: load + one image. Its log gives the load and the image's own time. */
function runSdCpp(binary: string, file: string, size: number, seed: number): Result {
  const out = mkdtempSync(path.join(tmpdir(), 'pictor-sdcpp-'));
  try {
    const started = performance.now();
    const result = spawnSync(
      '/usr/bin/time',
      ['-v', binary, '-m', file, '-p', prompt, '-W', String(size), '-H', String(size)]
        .concat(['--steps', String(steps), '--cfg-scale', '7.5', '--sampling-method', 'euler'])
        .concat(['-t', '2', '-s', String(seed), '-o', path.join(out, 'out.png')]),
      { encoding: 'utf8' },
    );
    const wallMs = performance.now() - started;
    const log = `${result.stdout}\n${result.stderr}`;
    if (result.status !== 0 || !existsSync(path.join(out, 'out.png'))) {
      return { error: `sd-cli failed: ${log.slice(-200)}`, load: loadAverage() };
    }
    const number = (pattern: RegExp): number => Number(pattern.exec(log)?.[1] ?? NaN);
    const imageMs = number(/generate_image completed in ([\d.]+)s/) * 1000;
    return {
      loadedMs: number(/loading tensors completed, taking ([\d.]+)s/) * 1000,
      firstImageMs: wallMs,
      times: [Number.isFinite(imageMs) ? imageMs : wallMs],
      unetMs: [number(/sampling completed, taking ([\d.]+)s/) * 1000],
      outsideOrtMs: [],
      peakRssMb: number(/Maximum resident set size \(kbytes\): (\d+)/) / 1024,
      load: loadAverage(),
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

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
  const wanted = new Set(values.variants.split(','));
  const rounds = Number(values.rounds);
  console.log(
    `checkpoint bench: SD 1.5 architecture, random weights, ${steps} steps, guidance 7.5, euler, ` +
      `2 threads, ${rounds} rounds of the variants in turn, ${runs} timed image(s) per Pictor ` +
      `process after its first, node ${process.version}\n`,
  );
  const columns = ['variant', 'size', 'round', 'load avg', 's/image', 'UNet s', 'outside ORT s'];
  console.log([...columns, 'load s', 'file→first image s', 'peak RSS MB'].join('\t'));
  const summaries: string[] = [];
  for (const size of values.sizes.split(',').map(Number)) {
    // Each round's 1st start optimizes each component and saves ORT's result in a fresh cache
    // dir; its 2nd start loads those (docs/checkpoint-graphs.md, "Cold start").
    const caches: string[] = [];
    const cacheOf = (round: number): string =>
      (caches[round] ??= mkdtempSync(path.join(tmpdir(), 'pictor-bench-cache-')));
    const variants: [string, (round: number) => Result][] = [];
    if (wanted.has('onnx')) variants.push(['onnx folder', () => runChild(onnx, size)]);
    if (wanted.has('checkpoint')) {
      variants.push(['checkpoint, 1st start', (r) => runChild(file, size, cacheOf(r))]);
      variants.push(['checkpoint, 2nd start', (r) => runChild(file, size, cacheOf(r))]);
    }
    if (wanted.has('sdcpp') && sdcpp) {
      // Looked up at each turn, so a binary still building when the bench starts joins later.
      variants.push([
        'stable-diffusion.cpp',
        (r) =>
          existsSync(sdcpp)
            ? runSdCpp(sdcpp, file, size, 42 + r)
            : { error: `no sd-cli at ${sdcpp}`, load: loadAverage() },
      ]);
    }
    try {
      const samples = interleave(rounds, variants, (label, round, r) => {
        if ('error' in r) {
          console.log(`${label}\t${size}\t${round + 1}\t${r.load}\t(failed: ${r.error})`);
          return;
        }
        console.log(
          [
            label,
            size,
            round + 1,
            r.load,
            r.times.map(seconds).join(','),
            r.unetMs.map(seconds).join(','),
            r.outsideOrtMs.map(seconds).join(',') || '-',
            seconds(r.loadedMs),
            seconds(r.firstImageMs),
            r.peakRssMb.toFixed(0),
          ].join('\t'),
        );
      });
      for (const [label, results] of samples) {
        const ok = results.filter((r): r is Sample => !('error' in r));
        summaries.push(
          [
            label,
            size,
            `${ok.length}/${results.length}`,
            minMedian(ok.flatMap((r) => r.times)),
            minMedian(ok.flatMap((r) => r.unetMs)),
            minMedian(ok.flatMap((r) => r.outsideOrtMs)),
            minMedian(ok.map((r) => r.loadedMs)),
            minMedian(ok.map((r) => r.firstImageMs)),
            ok.length ? Math.max(...ok.map((r) => r.peakRssMb)).toFixed(0) : '-',
            loadRange(results.map((r) => r.load)),
          ].join(' | '),
        );
      }
    } finally {
      for (const cache of caches) rmSync(cache, { recursive: true, force: true });
    }
  }
  console.log(
    '\n| variant | size | ok runs | s/image min / median | UNet s | outside ORT s | load s | ' +
      'file→first image s | peak RSS MB | load avg |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const line of summaries) console.log(`| ${line} |`);
}

if (values.child) await child(values.child);
else main();
