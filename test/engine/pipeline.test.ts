import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import {
  EngineError,
  loadPipeline,
  readPngText,
  SCHEDULER_NAMES,
  type DiffusionPipeline,
  type GeneratedImage,
} from '../../src/engine/index.ts';

const fixtures = path.join(import.meta.dirname, '../fixtures/models');
const VARIANTS = ['sd15', 'optimum', 'fp16', 'lcm', 'inpaint', 'sdxl', 'safety'] as const;

async function rgbOf(image: GeneratedImage): Promise<Uint8Array> {
  const { data } = await sharp(image.data)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return new Uint8Array(data);
}

function maxDifference(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}

/** A 64×64 PNG: left half `left`, right half `right`. */
async function halves(
  left: [number, number, number],
  right: [number, number, number],
): Promise<Buffer> {
  const rgb = new Uint8Array(64 * 64 * 3);
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) rgb.set(x < 32 ? left : right, (y * 64 + x) * 3);
  }
  return sharp(rgb, { raw: { width: 64, height: 64, channels: 3 } })
    .png()
    .toBuffer();
}

const pipelines = new Map<string, DiffusionPipeline>();
const pipelineFor = async (variant: string): Promise<DiffusionPipeline> => {
  let pipeline = pipelines.get(variant);
  if (!pipeline) {
    pipeline = await loadPipeline(path.join(fixtures, variant), { intraOpThreads: 1 });
    pipelines.set(variant, pipeline);
  }
  return pipeline;
};

after(async () => {
  await Promise.all([...pipelines.values()].map((pipeline) => pipeline.dispose()));
});

describe('every fixture layout loads and generates', () => {
  for (const variant of VARIANTS) {
    test(variant, async () => {
      const pipeline = await pipelineFor(variant);
      const result = await pipeline.generate({
        prompt: 'a red circle on a blue background',
        seed: 7,
        n: 2,
        steps: 3,
      });
      assert.equal(result.images.length, 2);
      assert.deepEqual(
        result.images.map((image) => image.seed),
        [7, 8],
      );
      for (const image of result.images) {
        const meta = await sharp(image.data).metadata();
        const { width, height } = pipeline.manifest.defaults;
        assert.deepEqual([meta.format, meta.width, meta.height], ['png', width, height]);
        assert.equal(image.mimeType, 'image/png');
        assert.match(
          readPngText(image.data)['parameters'] ?? '',
          new RegExp(`Steps: 3, .*Seed: ${image.seed}, Size: ${width}x${height}`),
        );
      }
      const [first, second] = await Promise.all(result.images.map(rgbOf));
      assert.ok(
        first && second && maxDifference(first, second) > 0,
        'different seeds give different images',
      );
      assert.ok(result.timings.unet > 0 && result.timings.total >= result.timings.unet);
    });
  }
});

describe('sd15 pipeline behaviour', () => {
  let pipeline: DiffusionPipeline;
  before(async () => {
    pipeline = await pipelineFor('sd15');
  });

  test('the same request gives byte-identical images', async () => {
    const request = {
      prompt: 'a green square',
      negativePrompt: 'red',
      seed: 99,
      steps: 4,
      scheduler: 'euler_a',
    } as const;
    const [a, b] = await Promise.all([pipeline.generate(request), pipeline.generate(request)]);
    assert.ok(a.images[0]?.data.equals(b.images[0]?.data ?? Buffer.alloc(0)));
  });

  test('a batch mixing prompts and seeds gives each item what it gives alone (±2)', async () => {
    const common = { steps: 4, guidanceScale: 5, scheduler: 'euler_a' } as const;
    const items = [
      { id: 'a', prompt: 'a red circle', seed: 1, ...common },
      {
        id: 'b',
        prompt: 'a blue triangle on a yellow background',
        negativePrompt: 'green',
        seed: 2,
        ...common,
      },
      { id: 'c', prompt: 'white square', seed: 3, n: 2, ...common },
    ];
    const batch = await pipeline.generateBatch(items);
    assert.deepEqual(
      batch.images.map((image) => [image.itemId, image.seed]),
      [
        ['a', 1],
        ['b', 2],
        ['c', 3],
        ['c', 4],
      ],
    );
    for (const [index, image] of batch.images.entries()) {
      const item = items.find((candidate) => candidate.id === image.itemId);
      assert.ok(item);
      const alone = await pipeline.generate({ ...item, n: 1, seed: image.seed });
      const difference = maxDifference(
        await rgbOf(image),
        await rgbOf(alone.images[0] as GeneratedImage),
      );
      assert.ok(difference <= 2, `item ${index} differs by ${difference}`);
    }
  });

  test('items that do not share size or steps are refused as a batch', async () => {
    await assert.rejects(
      pipeline.generateBatch([
        { prompt: 'a', steps: 2 },
        { prompt: 'b', steps: 3 },
      ]),
      (error: unknown) =>
        error instanceof EngineError && error.code === 'INVALID_REQUEST' && error.field === 'steps',
    );
  });

  test('every scheduler runs through the pipeline', async () => {
    for (const scheduler of SCHEDULER_NAMES) {
      const result = await pipeline.generate({ prompt: 'red', seed: 1, steps: 3, scheduler });
      assert.match(result.images[0]?.infotext ?? '', /Steps: 3/);
    }
  });

  test('progress is reported per step with an optional preview', async () => {
    const events: { step: number; totalSteps: number; previewSize?: number }[] = [];
    await pipeline.generate(
      { prompt: 'red', seed: 1, steps: 5, n: 2, scheduler: 'euler' },
      {
        preview: true,
        onProgress: (event) =>
          events.push({
            step: event.step,
            totalSteps: event.totalSteps,
            previewSize: event.preview?.rgb[1]?.length,
          }),
      },
    );
    assert.deepEqual(
      events.map((event) => event.step),
      [1, 2, 3, 4, 5],
    );
    assert.ok(events.every((event) => event.totalSteps === 5 && event.previewSize === 8 * 8 * 3));
  });

  test('an abort between steps stops the run, and the pipeline keeps working', async () => {
    const controller = new AbortController();
    let steps = 0;
    await assert.rejects(
      pipeline.generate(
        { prompt: 'red', steps: 10 },
        {
          signal: controller.signal,
          onProgress: () => {
            steps += 1;
            if (steps === 2) controller.abort();
          },
        },
      ),
      { name: 'AbortError' },
    );
    assert.equal(steps, 2);
    const result = await pipeline.generate({ prompt: 'red', steps: 1 });
    assert.equal(result.images.length, 1);
  });

  test('out-of-range parameters are refused naming the field', async () => {
    const cases = [
      [{ prompt: 'x', width: 72 }, 'width'],
      [{ prompt: 'x', width: 0 }, 'width'],
      [{ prompt: 'x', height: 4096 }, 'height'],
      [{ prompt: 'x', steps: 0 }, 'steps'],
      [{ prompt: 'x', guidanceScale: -1 }, 'guidance_scale'],
      [{ prompt: 'x', n: 0 }, 'n'],
      [{ prompt: 'x', seed: -5 }, 'seed'],
      [{ prompt: 'x', quality: 101, outputFormat: 'jpeg' }, 'quality'],
      [{ prompt: 'x', scheduler: 'heun' }, 'scheduler'],
      [{ prompt: 'x', mask: new Uint8Array(4) }, 'mask'],
      [{ prompt: 'x', safetyFilter: true }, 'safety_filter'],
    ] as const;
    for (const [request, field] of cases) {
      await assert.rejects(
        pipeline.generate(request as never),
        (error: unknown) =>
          error instanceof EngineError && error.code === 'INVALID_REQUEST' && error.field === field,
        field,
      );
    }
  });

  test('non-square sizes and JPEG / WebP output', async () => {
    const result = await pipeline.generate({
      prompt: 'red',
      steps: 1,
      width: 96,
      height: 64,
      outputFormat: 'webp',
      quality: 50,
    });
    const meta = await sharp(result.images[0]?.data).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 96, 64]);
    const jpeg = await pipeline.generate({ prompt: 'red', steps: 1, outputFormat: 'jpeg' });
    assert.equal((await sharp(jpeg.images[0]?.data).metadata()).format, 'jpeg');
  });

  test('a cut prompt warns only the batch item it belongs to', async () => {
    const long = `${'blue '.repeat(80)}square`;
    const batch = await pipeline.generateBatch([
      { id: 'long', prompt: long, negativePrompt: `${'red '.repeat(80)}green`, steps: 1 },
      { id: 'short', prompt: 'red', steps: 1 },
    ]);
    const [longImage, shortImage] = batch.images;
    assert.deepEqual(shortImage?.warnings, []);
    assert.equal(longImage?.warnings.length, 2);
    assert.match(
      longImage?.warnings[0] ?? '',
      /^prompt .* ignored: "blue blue blue blue blue square"/,
    );
    assert.match(
      longImage?.warnings[1] ?? '',
      /^negative prompt .* ignored: "red red red red red green"/,
    );
  });

  test('a prompt cut at 77 tokens comes back as a warning', async () => {
    const result = await pipeline.generate({ prompt: `${'red '.repeat(80)}circle`, steps: 1 });
    assert.equal(result.warnings.length, 1);
    assert.match(
      result.warnings[0] ?? '',
      /cut at 77 tokens; ignored: "red red red red red circle"/,
    );
  });

  test('img2img starts from the init image: strength changes the result, seeds reproduce it', async () => {
    const init = await halves([255, 0, 0], [0, 0, 255]);
    const light = await pipeline.generate({
      prompt: 'red',
      seed: 3,
      steps: 10,
      initImage: init,
      strength: 0.3,
    });
    const again = await pipeline.generate({
      prompt: 'red',
      seed: 3,
      steps: 10,
      initImage: init,
      strength: 0.3,
    });
    const strong = await pipeline.generate({
      prompt: 'red',
      seed: 3,
      steps: 10,
      initImage: init,
      strength: 0.9,
    });
    assert.ok(light.images[0]?.data.equals(again.images[0]?.data ?? Buffer.alloc(0)));
    assert.ok(
      maxDifference(
        await rgbOf(light.images[0] as GeneratedImage),
        await rgbOf(strong.images[0] as GeneratedImage),
      ) > 0,
    );
    assert.match(light.images[0]?.infotext ?? '', /Denoising strength: 0.3/);
    await assert.rejects(
      pipeline.generate({ prompt: 'red', initImage: new Uint8Array([1, 2, 3]) }),
      (error: unknown) =>
        error instanceof EngineError &&
        error.code === 'INVALID_IMAGE' &&
        error.field === 'init_image',
    );
  });
});

describe('inpainting keeps the unmasked pixels', () => {
  for (const variant of ['sd15', 'optimum', 'inpaint'] as const) {
    test(`${variant} (${variant === 'inpaint' ? '9-channel UNet' : 'latent blending'})`, async () => {
      const pipeline = await pipelineFor(variant);
      const init = await halves([255, 0, 0], [0, 0, 255]);
      const mask = await halves([0, 0, 0], [255, 255, 255]);
      const result = await pipeline.generate({
        prompt: 'green',
        seed: 5,
        steps: 4,
        initImage: init,
        mask,
      });
      const rgb = await rgbOf(result.images[0] as GeneratedImage);
      let changed = 0;
      for (let y = 0; y < 64; y++) {
        for (let x = 0; x < 64; x++) {
          const [r, g, b] = rgb.subarray((y * 64 + x) * 3, (y * 64 + x) * 3 + 3);
          if (x < 32) assert.deepEqual([r, g, b], [255, 0, 0], `kept pixel ${x},${y}`);
          else if (r !== 0 || g !== 0 || b !== 255) changed += 1;
        }
      }
      assert.ok(changed > 32 * 64 * 0.5, `masked area was repainted (${changed} pixels changed)`);
    });
  }
});

describe('safety checker', () => {
  test('flagged images (fixture rule: mean red > mean blue) are black and marked nsfw', async () => {
    const pipeline = await pipelineFor('safety');
    const request = { prompt: 'a photo', seed: 10, n: 6, steps: 2 } as const;
    const plain = await pipeline.generate(request);
    const filtered = await pipeline.generate({ ...request, safetyFilter: true });
    let flagged = 0;
    for (const [index, image] of plain.images.entries()) {
      const rgb = await rgbOf(image);
      let red = 0;
      let blue = 0;
      for (let i = 0; i < rgb.length; i += 3) {
        red += rgb[i] ?? 0;
        blue += rgb[i + 2] ?? 0;
      }
      const expected = red > blue;
      const out = filtered.images[index] as GeneratedImage;
      assert.equal(out.nsfw, expected, `image ${index}`);
      assert.equal(image.nsfw, false);
      const outRgb = await rgbOf(out);
      if (expected) {
        flagged += 1;
        assert.ok(
          outRgb.every((value) => value === 0),
          'flagged image is black',
        );
      } else {
        assert.equal(maxDifference(outRgb, rgb), 0);
      }
    }
    assert.equal(
      filtered.warnings.some((w) => /safety checker/.test(w)),
      flagged > 0,
    );
  });
});

describe('loading refuses unusable folders with a message naming the file', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'pictor-models-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('missing UNet', async () => {
    const dir = path.join(scratch, 'no-unet');
    cpSync(path.join(fixtures, 'sd15'), dir, { recursive: true });
    rmSync(path.join(dir, 'unet'), { recursive: true });
    await assert.rejects(loadPipeline(dir), (error: unknown) => {
      return (
        error instanceof EngineError &&
        error.code === 'MODEL_INVALID' &&
        error.message.includes(path.join(dir, 'unet', 'model.onnx'))
      );
    });
  });

  test('not a folder / no model_index.json', async () => {
    await assert.rejects(loadPipeline(path.join(scratch, 'nothing')), /does not exist/);
    const empty = path.join(scratch, 'empty');
    mkdirSync(empty);
    await assert.rejects(loadPipeline(empty), /model_index\.json is missing/);
  });

  test('a transformer-based pipeline is refused as unsupported', async () => {
    const dir = path.join(scratch, 'flux');
    cpSync(path.join(fixtures, 'sd15'), dir, { recursive: true });
    mkdirSync(path.join(dir, 'transformer'));
    await assert.rejects(
      loadPipeline(dir),
      (error: unknown) => error instanceof EngineError && error.code === 'MODEL_UNSUPPORTED',
    );
  });

  test('an execution provider this runtime lacks is a clear error', async () => {
    await assert.rejects(
      loadPipeline(path.join(fixtures, 'sd15'), { executionProvider: 'coreml' }),
      (error: unknown) =>
        error instanceof EngineError &&
        error.code === 'PROVIDER_UNAVAILABLE' &&
        /coreml/.test(error.message),
    );
  });

  test('pictor.json sets defaults, limits and the preview projection', async () => {
    const dir = path.join(scratch, 'configured');
    cpSync(path.join(fixtures, 'sd15'), dir, { recursive: true });
    const projection = {
      latentRgbFactors: [
        [0, 0, 0],
        [0, 0, 0],
        [0, 0, 0],
        [0, 0, 0],
      ],
      latentRgbBias: [1, -1, 0],
    };
    const pictorJson = {
      defaults: { steps: 3, scheduler: 'euler' },
      limits: { maxSteps: 5 },
      ...projection,
    };
    writeFileSync(path.join(dir, 'pictor.json'), JSON.stringify(pictorJson));
    const pipeline = await loadPipeline(dir);
    try {
      assert.equal(pipeline.manifest.defaults.steps, 3);
      assert.equal(pipeline.manifest.defaultScheduler, 'euler');
      await assert.rejects(
        pipeline.generate({ prompt: 'x', steps: 6 }),
        /steps must be an integer from 1 to 5/,
      );
      const previews: Uint8Array[] = [];
      const result = await pipeline.generate(
        { prompt: 'x' },
        {
          preview: true,
          onProgress: (event) => previews.push(event.preview?.rgb[0] ?? new Uint8Array()),
        },
      );
      assert.match(result.images[0]?.infotext ?? '', /Steps: 3, Sampler: Euler,/);
      assert.equal(previews.length, 3);
      const [r, g, b] = previews[0] ?? [];
      assert.deepEqual([r, g, b], [255, 0, 128]);
    } finally {
      await pipeline.dispose();
    }
  });

  test('a disposed pipeline refuses work', async () => {
    const pipeline = await loadPipeline(path.join(fixtures, 'sd15'));
    await pipeline.dispose();
    await assert.rejects(
      pipeline.generate({ prompt: 'x' }),
      (error: unknown) => error instanceof EngineError && error.code === 'PIPELINE_DISPOSED',
    );
  });
});
