// `npm run bench:zimage` (also run by `npm run bench:engine`): the tiny random-weight Z-Image
// diffusers folder (test/fixtures/checkpoints/tiny-zimage) through the engine: session
// create time, time per step in ONNX Runtime (the transformer) and outside it (patching, rotary
// tables, scheduler), the Qwen3 encoder, VAE decode, peak RSS. Real-size Z-Image-Turbo (about
// 38 GB of fp32 weights, 7.6 GB at int4) does not fit this machine; this measures the pipeline.
// First, Z-Image-Turbo's real Qwen3 tokenizer (models/qwen3-tokenizer, 151,669 tokens):
// load time (read, parse, build: paid at every model load) and time per prompt
// (`--part tokenizer|pipeline` runs one half).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { gunzipSync } from 'node:zlib';
import { loadPipeline } from '../src/engine/index.ts';
import { BUNDLED_QWEN3_TOKENIZER_DIR } from '../src/engine/text/bundled-tokenizers.ts';
import { Qwen3Tokenizer } from '../src/engine/text/qwen3-tokenizer.ts';
import { medianStepTimings, STEP_TIMINGS_COLUMNS } from './median-step-timings.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '64,128,256' },
    steps: { type: 'string', default: '8' },
    runs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    part: { type: 'string', default: 'all' },
    loads: { type: 'string', default: '5' },
  },
});
const middle = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

// The heap a loaded tokenizer holds is read after a full collection.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;
let heapMb = 0;

if (values.part !== 'pipeline') await benchTokenizer(Number(values.loads));
if (values.part !== 'tokenizer') await benchPipeline();

async function benchTokenizer(loads: number): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pictor-bench-qwen3-'));
  try {
    const bytes = gunzipSync(
      await readFile(path.join(BUNDLED_QWEN3_TOKENIZER_DIR, 'tokenizer.json.gz')),
    );
    await writeFile(path.join(dir, 'tokenizer.json'), bytes);
    // Wall time on a shared machine counts other processes' turns; CPU time is this load's own.
    const loadMs: number[] = [];
    const loadCpuMs: number[] = [];
    let tokenizer: Qwen3Tokenizer | undefined;
    for (let run = 0; run < loads; run++) {
      tokenizer = undefined;
      collectGarbage();
      const heapBefore = process.memoryUsage().heapUsed;
      const cpu = process.cpuUsage();
      const started = performance.now();
      tokenizer = await Qwen3Tokenizer.load(dir);
      loadMs.push(performance.now() - started);
      const used = process.cpuUsage(cpu);
      loadCpuMs.push((used.user + used.system) / 1000);
      if (run === 0) {
        // The first load only: later ones may still find the previous tokenizer uncollected.
        collectGarbage();
        heapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
      }
    }
    if (!tokenizer) return;
    const { cases } = JSON.parse(
      await readFile(
        path.join(import.meta.dirname, '../test/fixtures/tokenizers/qwen3/reference.json'),
        'utf8',
      ),
    ) as {
      cases: { name: string; text: string }[];
    };
    const prompts: [string, string[]][] = [
      ['short (15 tokens)', ['a red circle on a blue background']],
      ['the 66 reference cases', cases.map((item) => item.text)],
      [
        'long (512 tokens, cut)',
        [cases.find((item) => item.name.startsWith('long English'))!.text],
      ],
    ];
    console.log(
      `Qwen3 tokenizer (${(bytes.length / 1e6).toFixed(1)} MB tokenizer.json): load ` +
        `${middle(loadMs).toFixed(0)} ms wall, ${middle(loadCpuMs).toFixed(0)} ms CPU (medians of ` +
        `${loads}; first ${loadMs[0]!.toFixed(0)} ms wall), ${heapMb.toFixed(0)} MB of heap held`,
    );
    for (const [label, texts] of prompts) {
      tokenizer.encode(texts[0]!); // warm-up
      const started = performance.now();
      let count = 0;
      const cpu = process.cpuUsage();
      while (performance.now() - started < 1000) {
        // A new text each time; the library's per-word BPE cache stays warm, as in a server.
        for (const text of texts) tokenizer.encode(`${text} ${count}`);
        count += texts.length;
      }
      const used = process.cpuUsage(cpu);
      console.log(
        `  encode ${label}: ${((performance.now() - started) / count).toFixed(3)} ms wall, ` +
          `${((used.user + used.system) / 1000 / count).toFixed(3)} ms CPU per prompt`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchPipeline(): Promise<void> {
  const steps = Number(values.steps);
  const runs = Number(values.runs);
  const folder = path.join(import.meta.dirname, '../test/fixtures/checkpoints/tiny-zimage');

  const started = performance.now();
  const pipeline = await loadPipeline(folder, { intraOpThreads: Number(values.threads) });
  const createMs = performance.now() - started;
  console.log(`tiny Z-Image (diffusers folder): sessions created in ${createMs.toFixed(0)} ms`);
  console.log(`size | ${STEP_TIMINGS_COLUMNS}`);
  for (const size of values.sizes.split(',').map(Number)) {
    const request = {
      prompt: 'a red circle on a blue background',
      width: size,
      height: size,
      steps,
    };
    console.log([`${size}²`, ...(await medianStepTimings(pipeline, request, runs))].join(' | '));
  }
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  await pipeline.dispose();
}
