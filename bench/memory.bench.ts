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
// A case is FILE:QUANTIZATION:MODE (FILE.safetensors in --dir; MODE `default` or `low`). All cases
// share one cache dir, warmed first by an unmeasured load per model/quantization, so they measure
// a server's second start (ORT's optimized graphs cached), not the one-time optimization.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { float32ToHalf } from '../src/engine/onnx/float16.ts';

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
  });
  const load = { ms: performance.now() - started, ...rss() };
  const size = Number(values.size ?? pipeline.manifest.defaults.width);
  const request = {
    prompt: 'a red circle on a blue background',
    width: size,
    height: size,
    steps: Number(values.steps),
    seed: 42,
  };
  const batches: { ms: number; peakMb: number; afterMb: number; live: readonly string[] }[] = [];
  for (let i = 0; i < Number(values.batches); i++) {
    resetPeak();
    const t = performance.now();
    await pipeline.generate({ ...request, seed: 42 + i });
    const { peakMb, nowMb } = rss();
    batches.push({
      ms: performance.now() - t,
      peakMb,
      afterMb: nowMb,
      live: pipeline.liveSessions(),
    });
  }
  await pipeline.dispose();
  console.log(JSON.stringify({ family: pipeline.manifest.family, size, load, batches }));
}

interface CaseResult {
  readonly family: string;
  readonly size: number;
  readonly load: { ms: number; peakMb: number; nowMb: number };
  readonly batches: { ms: number; peakMb: number; afterMb: number; live: string[] }[];
}

function runChild(spec: string, batches = values.batches): CaseResult | string {
  const args = [import.meta.filename, '--child', spec, '--dir', dir];
  args.push('--steps', values.steps, '--batches', batches);
  if (values.size) args.push('--size', values.size);
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  if (result.status !== 0 || !line.startsWith('{')) {
    const error = result.stderr.split('\n').find((l) => /Error/.test(l)) ?? 'failed';
    return error.slice(0, 300);
  }
  return JSON.parse(line) as CaseResult;
}

/**
 * Writes `NAME.safetensors` in `dir` with the tensors of `NAME.header.json.gz`, every value drawn
 * uniformly from ±0.05 (a seeded xorshift: the same file every time), in the header's dtype.
 */
function makeRandomWeights(name: string): void {
  const headerFile = path.join(HEADERS, `${name}.header.json.gz`);
  const header = JSON.parse(gunzipSync(readFileSync(headerFile)).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
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
    `memory bench: random real-size weights, ${values.steps} steps, guidance on (batch of 2), ` +
      `2 threads, ${values.batches} batches; load average ${load1} ${load5} ${load15}\n`,
  );
  if (values.warm) {
    for (const key of new Set(cases.map((c) => c.split(':').slice(0, 2).join(':')))) {
      const warmed = runChild(`${key}:default`, '1');
      if (typeof warmed === 'string') console.log(`warm-up ${key}: ${warmed}`);
      else console.log(`warm-up ${key}: first load peak ${gb(warmed.batches[0]?.peakMb ?? 0)} GB`);
    }
  }
  console.log(
    '| model | quantization | mode | size | load | 1st batch peak | later batches’ peak | held between batches | 2nd batch time | live after |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
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
        `${(result.batches.at(-1)?.live ?? []).join(', ') || 'none'} |`,
    );
  }
}

if (values.child) await child(values.child);
else await main();
