// `npm run bench:memory`: peak memory per family on CPU, default vs low-memory mode (issue #10
// item 5, issue #12 item 5). Every case runs in a child process of its own, one at a time, which
// reports its peak RSS (VmHWM) per phase: the load, the first batch (sessions created), a second
// batch (steady state), and the RSS it holds between batches.
//
// Weights: real-size, random, written to a folder outside the repository (never committed):
//   node bench/memory.bench.ts --make sd15 --dir /tmp/pictor-memory   (4.3 GB for SD 1.5)
// from the real headers in test/fixtures/checkpoints (names, shapes and dtypes of the released
// files). Random values rather than a sparse file: a sparse file's holes are never resident, so
// it undercounts. Then:
//   node bench/memory.bench.ts --dir /tmp/pictor-memory --cases sd15:none:default,sd15:none:low
// A case is FILE:QUANTIZATION:MODE (FILE.safetensors in --dir; MODE `default` or `low`). A
// transformer-only file takes its other files from `FILE.components.json` beside it (roles to
// file names in --dir, as `models.list[].components`), and its tokenizers from the folders the
// engine looks for beside it (`tokenizer_2/`, `tokenizer_3/`, `tokenizer/`: copy the tiny
// fixtures' — random weights make any token ids as good as the real vocabulary's). All cases
// share one cache dir, warmed first by an unmeasured load per model/quantization, so they measure
// a server's second start (ORT's optimized graphs cached), not the one-time optimization.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { float32ToHalf } from '../src/engine/onnx/float16.ts';
import type { ComponentFiles, GenerationTimings } from '../src/engine/index.ts';

const { values } = parseArgs({
  options: {
    make: { type: 'string' },
    dir: { type: 'string', default: path.join(os.tmpdir(), 'pictor-memory') },
    cases: { type: 'string', default: 'sd15:none:default,sd15:none:low' },
    size: { type: 'string' },
    steps: { type: 'string', default: '2' },
    batches: { type: 'string', default: '2' },
    warm: { type: 'boolean', default: true },
    child: { type: 'string' },
    // Classifier-free guidance scale; the model's default when absent.
    guidance: { type: 'string' },
    // SD 3.x skip-layer guidance: comma-separated MMDiT block indices (SD 3.5 Medium: 7,8,9).
    slg: { type: 'string' },
    estimates: { type: 'boolean', default: false },
  },
  allowNegative: true,
});
const dir = values.dir;
const cacheDir = path.join(dir, 'cache');
const HEADERS = path.join(import.meta.dirname, '..', 'test', 'fixtures', 'checkpoints');
const MB = 1024 * 1024;

/** The kernel's peak and current resident set of this process, in MB. */
function rss(): { peakMb: number; nowMb: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]);
  return { peakMb: kb('VmHWM') / 1024, nowMb: kb('VmRSS') / 1024 };
}

/** Starts a new peak (Linux: writing 5 to clear_refs resets VmHWM to the current RSS). */
function resetPeak(): void {
  const fd = openSync('/proc/self/clear_refs', 'w');
  writeSync(fd, '5');
  closeSync(fd);
}

/** Child: one case. Prints one JSON line. */
async function child(spec: string): Promise<void> {
  const [file = '', quantization = 'none', mode = 'default'] = spec.split(':');
  const { loadPipeline } = await import('../src/engine/index.ts');
  const started = performance.now();
  const pipeline = await loadPipeline(path.join(dir, `${file}.safetensors`), {
    intraOpThreads: 2,
    cacheDir,
    quantization: quantization as 'none' | 'int8' | 'int4',
    lowMemory: mode === 'low',
    components: componentsOf(file),
  });
  const load = { ms: performance.now() - started, ...rss() };
  const size = Number(values.size ?? pipeline.manifest.defaults.width);
  const request = {
    prompt: 'a red circle on a blue background',
    width: size,
    height: size,
    steps: Number(values.steps),
    seed: 42,
    ...(values.guidance ? { guidanceScale: Number(values.guidance) } : {}),
    // On every step but the first (start 0, stop 1): with diffusers' default 1–20 % window a
    // run of a few steps would have none, and the bench would time plain steps.
    ...(values.slg
      ? { skipLayerGuidance: { layers: values.slg.split(',').map(Number), start: 0, stop: 1 } }
      : {}),
  };
  const batches: CaseResult['batches'] = [];
  for (let i = 0; i < Number(values.batches); i++) {
    resetPeak();
    const t = performance.now();
    const { timings } = await pipeline.generate({ ...request, seed: 42 + i });
    const { peakMb, nowMb } = rss();
    batches.push({
      ms: performance.now() - t,
      peakMb,
      afterMb: nowMb,
      live: pipeline.liveSessions(),
      timings,
    });
  }
  await pipeline.dispose();
  console.log(JSON.stringify({ family: pipeline.manifest.family, size, load, batches }));
}

interface CaseResult {
  readonly family: string;
  readonly size: number;
  readonly load: { ms: number; peakMb: number; nowMb: number };
  readonly batches: {
    ms: number;
    peakMb: number;
    afterMb: number;
    live: readonly string[];
    /** The engine's split: text encoders, denoiser (in ONNX Runtime), outside it, VAE (ms). */
    timings: GenerationTimings;
  }[];
}

/** The other files of a transformer-only FILE: `FILE.components.json` in --dir, if any. */
function componentsOf(file: string): ComponentFiles | undefined {
  const listed = path.join(dir, `${file}.components.json`);
  if (!existsSync(listed)) return undefined;
  const roles = JSON.parse(readFileSync(listed, 'utf8')) as Record<string, string>;
  return Object.fromEntries(
    Object.entries(roles).map(([role, name]) => [role, path.join(dir, name)]),
  );
}

function runChild(spec: string, batches = values.batches): CaseResult | string {
  const args = [import.meta.filename, '--child', spec, '--dir', dir];
  args.push('--steps', values.steps, '--batches', batches);
  if (values.size) args.push('--size', values.size);
  if (values.guidance) args.push('--guidance', values.guidance);
  if (values.slg) args.push('--slg', values.slg);
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  if (result.status !== 0 || !line.startsWith('{')) {
    const error = result.stderr.split('\n').find((l) => /Error/.test(l)) ?? 'failed';
    return error.slice(0, 300);
  }
  return JSON.parse(line) as CaseResult;
}

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;

/**
 * Files that no released single file is, cut from one that holds them: the FLUX.1 VAE (`ae`,
 * Z-Image-Turbo's VAE too) from the all-in-one FLUX.1-schnell file's `vae.` tensors.
 */
const PARTS: Readonly<Record<string, { from: string; prefix: string }>> = {
  'flux1-vae': { from: 'flux1-schnell', prefix: 'vae.' },
};

/** The header of `name`: a committed real header, or a part of one ({@link PARTS}). */
function headerOf(name: string): Header {
  const part = PARTS[name];
  const file = path.join(HEADERS, `${part?.from ?? name}.header.json.gz`);
  const header = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as Header;
  if (!part) return header;
  const kept: Header = {};
  let offset = 0;
  for (const [key, entry] of Object.entries(header)) {
    if (!key.startsWith(part.prefix) || !Array.isArray(entry.data_offsets)) continue;
    const bytes = entry.data_offsets[1] - entry.data_offsets[0];
    kept[key] = { ...entry, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  return kept;
}

/**
 * Writes `NAME.safetensors` in `dir` with the tensors of `NAME.header.json.gz`, every value drawn
 * uniformly from ±0.05 (a seeded xorshift: the same file every time), in the header's dtype.
 */
function makeRandomWeights(name: string): void {
  const header = headerOf(name);
  header['__metadata__'] = { pictor: 'random weights for bench:memory' } as never;
  const text = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  mkdirSync(dir, { recursive: true });
  const fd = openSync(path.join(dir, `${name}.safetensors`), 'w');
  writeSync(fd, length);
  writeSync(fd, text);
  let state = 0x9e3779b9;
  const floats = new Float32Array(16 * MB);
  const fill = (count: number): Float32Array => {
    const out = floats.subarray(0, count);
    for (let i = 0; i < count; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      out[i] = ((state >>> 0) / 2 ** 32 - 0.5) * 0.1;
    }
    return out;
  };
  const tensors = Object.values(header)
    .filter((entry) => Array.isArray(entry.data_offsets))
    .sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
  for (const {
    dtype,
    data_offsets: [begin, end],
  } of tensors) {
    const bytesPer = dtype === 'F32' ? 4 : 2;
    for (let at = begin; at < end; at += floats.length * bytesPer) {
      const chunk = fill(Math.min(floats.length, (end - at) / bytesPer));
      let bytes: Uint8Array;
      if (dtype === 'F32') bytes = new Uint8Array(chunk.buffer, 0, chunk.byteLength);
      else if (dtype === 'F16') bytes = new Uint8Array(float32ToHalf(chunk).buffer);
      else if (dtype === 'BF16') {
        const bf16 = new Uint16Array(chunk.length);
        const bits = new Uint32Array(chunk.buffer, 0, chunk.length);
        for (let i = 0; i < bits.length; i++) bf16[i] = (bits[i] ?? 0) >>> 16;
        bytes = new Uint8Array(bf16.buffer);
      } else throw new Error(`${name}: dtype ${dtype} is not written by this bench`);
      writeSync(fd, bytes);
    }
  }
  closeSync(fd);
}

const gb = (mb: number): string => (mb / 1024).toFixed(2);
const steps = Number(values.steps);
/** A batch's time per step in ONNX Runtime's denoiser and outside it, then its text encoders and VAE decode. */
const split = (t: GenerationTimings | undefined): string =>
  t
    ? `${sec(t.unet / steps)} / ${(t.stepOverhead / steps / 1000).toFixed(2)} s | ` +
      `${sec(t.textEncoder)} / ${sec(t.vaeDecoder)} s`
    : '- | -';
const sec = (ms: number): string => (ms / 1000).toFixed(1);

/**
 * The estimate per family and quantization, both modes, from sparse files of the real headers
 * (what `pictor models info` prints; no weight is read), as a table for docs/models.md.
 */
async function printEstimates(): Promise<void> {
  const { estimateModelMemory } = await import('../src/engine/index.ts');
  const { realCheckpointTensors, realCheckpointMetadata } =
    await import('../test/helpers/checkpoint-headers.ts');
  const { writeSafetensors } = await import('../test/helpers/safetensors-files.ts');
  const sparseDir = path.join(dir, 'sparse');
  mkdirSync(sparseDir, { recursive: true });
  console.log('| model (header) | at | none: all / low | int8: all / low | int4: all / low |');
  console.log('|---|---|---|---|---|');
  for (const name of ESTIMATED) {
    const file = path.join(sparseDir, `${name}.safetensors`);
    await writeSafetensors(file, realCheckpointTensors(name), {
      sparse: true,
      metadata: realCheckpointMetadata(name),
    });
    const estimate = await estimateModelMemory(file).catch((error: Error) => error.message);
    if (typeof estimate === 'string' || !estimate) {
      console.log(`| ${name} | ${String(estimate).slice(0, 120)} | | | |`);
      continue;
    }
    const cells = Object.values(estimate.byQuantization).map(
      (need) => `${gb(need.totalBytes / MB)} / ${gb(need.lowMemoryBytes / MB)} GB`,
    );
    console.log(`| ${name} (${estimate.family}) | ${estimate.width}² | ${cells.join(' | ')} |`);
  }
}

/** The single-file headers of released models in test/fixtures/checkpoints. */
const ESTIMATED = [
  'sd15',
  'sd21-768-v',
  'sdxl-base',
  'flux1-schnell',
  'flux1-dev',
  'sd35-medium',
  'sd35-large',
];

async function main(): Promise<void> {
  if (values.estimates) {
    await printEstimates();
    return;
  }
  if (values.make) {
    for (const name of values.make.split(',')) makeRandomWeights(name);
    return;
  }
  const cases = values.cases.split(',');
  const missing = cases.find((c) => !existsSync(path.join(dir, `${c.split(':')[0]}.safetensors`)));
  if (missing) {
    console.log(
      `memory bench: skipped (no ${missing.split(':')[0]}.safetensors in ${dir}; make it with --make)`,
    );
    return;
  }
  const [load1, load5, load15] = os.loadavg().map((l) => l.toFixed(1));
  console.log(
    `memory bench: random real-size weights, ${values.steps} steps, guidance ${values.guidance ?? 'the model default'}${values.slg ? `, skip-layer guidance on blocks ${values.slg} (every step after the first)` : ''}, ` +
      `2 threads, ${values.batches} batches; load average ${load1} ${load5} ${load15}\n`,
  );
  if (values.warm) {
    // In the mode of the first case of each model/quantization: a first start in low-memory
    // mode creates one session at a time, so it fits where creating all of them would not.
    const firstModes = new Map<string, string>();
    for (const [file, quantization, mode = 'default'] of cases.map((c) => c.split(':'))) {
      const key = `${file}:${quantization}`;
      if (!firstModes.has(key)) firstModes.set(key, mode);
    }
    for (const [key, mode] of firstModes) {
      const warmed = runChild(`${key}:${mode}`, '1');
      if (typeof warmed === 'string') console.log(`warm-up ${key}:${mode}: ${warmed}`);
      else {
        // A first start: quantizing (once, cached) and ONNX Runtime's optimization (cached).
        const [batch] = warmed.batches;
        console.log(
          `warm-up ${key}:${mode} (first start): load ${sec(warmed.load.ms)} s at ` +
            `${gb(warmed.load.peakMb)} GB; first batch ${sec(batch?.ms ?? 0)} s, ` +
            `peak ${gb(batch?.peakMb ?? 0)} GB; step in ORT / outside, text / VAE: ${split(batch?.timings)}`,
        );
      }
    }
  }
  console.log(
    '| model | quantization | mode | size | load | 1st batch peak | later batches’ peak | held between batches | 2nd batch time | step in ORT / outside | text enc / VAE decode | live after |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const spec of cases) {
    const [file, quantization, mode] = spec.split(':');
    const result = runChild(spec);
    if (typeof result === 'string') {
      console.log(`| ${file} | ${quantization} | ${mode} | failed: ${result} |`);
      continue;
    }
    const [first, second] = result.batches;
    const later = result.batches.slice(1);
    // After each batch, so a release that gave nothing back (a leak) shows as growth.
    const held = result.batches.map((b) => gb(b.afterMb)).join(' / ');
    const laterPeak = later.length > 0 ? `${gb(Math.max(...later.map((b) => b.peakMb)))} GB` : '-';
    console.log(
      `| ${file} (${result.family}) | ${quantization} | ${mode} | ${result.size}² | ` +
        `${sec(result.load.ms)} s, ${gb(result.load.peakMb)} GB | ${gb(first?.peakMb ?? 0)} GB | ` +
        `${laterPeak} | ${held} GB | ${second ? sec(second.ms) : '-'} s | ` +
        `${split(result.batches.at(-1)?.timings)} | ` +
        `${(result.batches.at(-1)?.live ?? []).join(', ') || 'none'} |`,
    );
  }
}

if (values.child) await child(values.child);
else await main();
