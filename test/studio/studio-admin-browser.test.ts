// The studio's admin pages in a real browser (Debian's Chromium through playwright-core) against a
// real server with the `tiny` model, API keys on, and a fake Hugging Face hub on loopback: the
// model library (pull with live progress, state, remove, a failed load), the usage charts, the
// queue and worker status. Skipped, saying so, when no Chromium is installed.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Pictor } from '../../src/cli/compose.ts';
import { chromiumPath, launchChromium } from '../helpers/browser.ts';
import { FakeHub, repoFromFolder } from '../helpers/fake-hub.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

const ADMIN_KEY = 'sk_test_admin_studio_admin_0123456789abcd';
const TINY = path.resolve(import.meta.dirname, '../../models/tiny');
const chromium = chromiumPath();
if (!chromium) console.log('note: no Chromium found; the studio admin browser tests are skipped');

describe('studio admin pages in a browser', { skip: chromium === undefined }, () => {
  const hub = new FakeHub();
  let pictor: Pictor;
  let base: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** Lets the held part of the gated repo's UNet through. */
  let releaseUnet = (): void => undefined;

  const api = async (method: string, route: string, body?: unknown): Promise<Response> =>
    fetch(`${base}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  /** The studio with the admin key entered, on one admin section. */
  async function openAdmin(section: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(base);
    await page.locator('[name=api_key]').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Use key' }).click();
    await page
      .getByRole('navigation', { name: 'pages' })
      .getByRole('button', { name: 'Admin' })
      .click();
    await page
      .getByRole('navigation', { name: 'admin sections' })
      .getByRole('button', { name: section })
      .click();
    return page;
  }

  before(async () => {
    await hub.listen();
    const files = repoFromFolder(TINY);
    const unet = files.get('unet/model.onnx');
    assert.ok(unet);
    files.set('unet/model.onnx', {
      ...unet,
      gate: { after: 1 << 20, open: new Promise((resolve) => (releaseUnet = resolve)) },
    });
    hub.repos.set('org/tiny-studio', { sha: 'd'.repeat(40), files });
    const config = testConfig({
      PICTOR_AUTH__ENABLED: 'true',
      PICTOR_ADMIN_KEY: ADMIN_KEY,
      PICTOR_WORKERS__ENGINE: 'onnx',
      PICTOR_WORKERS__INTRA_OP_THREADS: '1',
      PICTOR_QUEUE__MAX_BATCH: '1',
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: path.join(testConfig().dataDir, 'hf'),
    });
    // A checkpoint that cannot load: it is listed, and fails on its first job.
    mkdirSync(config.models.dir, { recursive: true });
    writeFileSync(path.join(config.models.dir, 'broken.safetensors'), Buffer.alloc(1024));
    pictor = await startPictor(config);
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium(chromium ?? '');
  });
  after(async () => {
    releaseUnet();
    for (const context of contexts) await context.close();
    await browser?.close();
    await pictor?.stop();
    await hub.close();
  });

  test('Models: pull by reference with live progress, then it is served, loads, and is removed', async () => {
    const page = await openAdmin('Models');
    const tiny = page.locator('tr[data-model=tiny]');
    await tiny.waitFor();
    assert.match((await tiny.textContent()) ?? '', /tiny \(default\)/);

    const form = page.getByRole('form', { name: 'pull a model' });
    await form.locator('[name=source]').fill('hf:org/tiny-studio');
    await form.locator('[name=name]').fill('studio-copy');
    await form.getByRole('button', { name: 'Pull' }).click();
    // The hub holds the UNet after 1 MB: the card shows the download under way.
    const card = page.locator('.pull', { hasText: 'studio-copy' });
    await card
      .locator('.pull-stage[data-stage=downloading]', { hasText: /unet\/model\.onnx$/ })
      .waitFor();
    await card.locator('.pull-bytes', { hasText: /of [\d.]+ MB \(\d+%\)$/ }).waitFor();
    const bar = card.getByRole('progressbar');
    await page.waitForFunction(
      (el) => el instanceof HTMLProgressElement && el.value >= 1 << 20 && el.value < el.max,
      await bar.elementHandle(),
    );
    // The table lists it as downloading (it refreshes by itself).
    await page.locator('tr[data-model=studio-copy][data-state=downloading]').waitFor();
    releaseUnet();
    await card.getByRole('status').filter({ hasText: "pulled 'studio-copy'" }).waitFor();
    const row = page.locator('tr[data-model=studio-copy][data-state=available]');
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    const [name, state, family, format, size, source] = cells;
    assert.deepEqual(
      { name, state, family, format, source },
      {
        name: 'studio-copy',
        state: 'available',
        family: 'sd',
        format: 'onnx',
        source: 'hf:org/tiny-studio@main',
      },
    );
    assert.match(size ?? '', /^[\d.]+ MB$/);

    // The Generate picker offers it without a reload; a job on it loads it.
    await page
      .getByRole('navigation', { name: 'pages' })
      .getByRole('button', { name: 'Generate' })
      .click();
    await page.locator('[name=model] option[value=studio-copy]').waitFor({ state: 'attached' });
    const generated = await api('POST', '/v1/generate', {
      model: 'studio-copy',
      prompt: 'a red circle on a blue background',
      steps: 2,
    });
    assert.equal(generated.status, 200, await generated.clone().text());
    await page
      .getByRole('navigation', { name: 'pages' })
      .getByRole('button', { name: 'Admin' })
      .click();
    await page
      .getByRole('navigation', { name: 'admin sections' })
      .getByRole('button', { name: 'Models' })
      .click();
    await page.locator('tr[data-model=studio-copy][data-state=loaded]').waitFor();

    // Removing asks once more, then frees the model: gone from the page and from the API.
    const copy = page.locator('tr[data-model=studio-copy]');
    await copy.getByRole('button', { name: 'Remove' }).click();
    await copy.getByRole('button', { name: 'Remove studio-copy and its files' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /^removed 'studio-copy' \([\d.]+ MB freed\)$/ })
      .waitFor();
    await copy.waitFor({ state: 'detached' });
    const listed = (await (await api('GET', '/v1/models')).json()) as { data: { name: string }[] };
    assert.ok(!listed.data.some((m) => m.name === 'studio-copy'));
    // A configured model has no Remove button.
    assert.equal(await tiny.getByRole('button', { name: 'Remove' }).count(), 0);
  });

  test('Models: Load and Unload buttons load a model in a worker and free it, the row following', async () => {
    const page = await openAdmin('Models');
    const unload = async (): Promise<void> => {
      const res = await api('POST', '/v1/admin/models/tiny/unload');
      assert.equal(res.status, 200, await res.clone().text());
    };
    await unload();
    const tiny = page.locator('tr[data-model=tiny]');
    await page.locator('tr[data-model=tiny][data-state=available]').waitFor();
    await tiny.getByRole('button', { name: 'Load', exact: true }).click();
    await page.getByRole('status').filter({ hasText: "loaded 'tiny'" }).waitFor();
    await page.locator('tr[data-model=tiny][data-state=loaded]').waitFor();
    assert.ok(
      pictor.workers.models().some((m) => m.name === 'tiny' && m.loaded),
      'the worker holds it',
    );
    await tiny.getByRole('button', { name: 'Unload' }).click();
    await page.getByRole('status').filter({ hasText: "unloaded 'tiny'" }).waitFor();
    await page.locator('tr[data-model=tiny][data-state=available]').waitFor();
    assert.ok(!pictor.workers.models().some((m) => m.name === 'tiny' && m.loaded));
  });

  test('Models: a failed pull shows its reason; a model that failed to load shows failed and why', async () => {
    const page = await openAdmin('Models');
    const form = page.getByRole('form', { name: 'pull a model' });
    await form.locator('[name=source]').fill('hf:org/missing');
    await form.getByRole('button', { name: 'Pull' }).click();
    const card = page.locator('.pull', { hasText: 'hf:org/missing' });
    const alert = card.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /org\/missing/);
    await card.getByRole('button', { name: 'Dismiss' }).click();
    await card.waitFor({ state: 'detached' });

    // An invalid reference is refused by the API; its problem shows in the page.
    await form.locator('[name=source]').fill('civitai:abc');
    await form.getByRole('button', { name: 'Pull' }).click();
    await page.locator('.models > .problem[role=alert]').waitFor();

    const res = await api('POST', '/v1/generate', { model: 'broken', prompt: 'x', steps: 2 });
    assert.equal(res.status, 500);
    const broken = page.locator('tr[data-model=broken][data-state=failed]');
    await broken.waitFor();
    assert.match(
      (await broken.locator('.fail').textContent()) ?? '',
      /^failed: could not be loaded: /,
    );
    // A model that failed to load offers neither Load nor Unload.
    assert.equal(await broken.getByRole('button', { name: /^(Load|Unload)$/ }).count(), 0);
    // The Generate picker offers it no more, saying why.
    await page
      .getByRole('navigation', { name: 'pages' })
      .getByRole('button', { name: 'Generate' })
      .click();
    const option = page.locator('[name=model] option[value=broken]');
    await page.locator('[name=model] option[value=broken]:disabled').waitFor({ state: 'attached' });
    assert.match((await option.textContent()) ?? '', /broken \(sd\) — failed to load/);
    assert.match((await option.getAttribute('title')) ?? '', /could not be loaded/);
  });

  test('Usage: the charts draw one bar per day and per model from the analytics', async () => {
    for (const prompt of ['one', 'two']) {
      const res = await api('POST', '/v1/generate', { prompt, steps: 2, n: 2 });
      assert.equal(res.status, 200, await res.clone().text());
    }
    const analytics = (await (await api('GET', '/v1/admin/analytics')).json()) as {
      data: { model: string; day: string; images: number }[];
    };
    const tinyImages = analytics.data
      .filter((r) => r.model === 'tiny')
      .reduce((sum, r) => sum + r.images, 0);
    assert.ok(tinyImages >= 4);
    const page = await openAdmin('Usage');
    const perModel = page.getByRole('img', { name: 'Images per model' });
    await perModel.waitFor();
    // Each bar's tooltip is "label: value"; the model chart has tiny's total.
    const bars = await perModel.locator('rect title').allTextContents();
    assert.ok(bars.includes(`tiny: ${tinyImages}`), bars.join(', '));
    const perDay = await page
      .getByRole('img', { name: 'Images per day' })
      .locator('rect title')
      .allTextContents();
    const days = new Set(analytics.data.map((r) => r.day));
    assert.equal(perDay.length, days.size);
    // Bar heights follow the values: the tallest bar is the largest value.
    const heights = await perModel
      .locator('rect')
      .evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('height'))));
    assert.equal(Math.max(...heights), 90);
    assert.ok(await page.getByRole('img', { name: 'Failures per day' }).isVisible());
    assert.ok(
      await page.getByRole('img', { name: 'Mean generation time per day (s)' }).isVisible(),
    );
  });

  test('Queue: depth and running jobs update live; readiness lists the workers', async () => {
    const page = await openAdmin('Queue');
    const stats = page.locator('.stats');
    await stats.waitFor();
    assert.match((await stats.textContent()) ?? '', /0 queued.*0 running/);
    const ready = page.locator('.queue table');
    await ready.waitFor();
    assert.match((await ready.textContent()) ?? '', /database\s*ok.*worker\s*ok/s);
    // A long job runs and another waits behind it: the page shows both without a reload.
    const long = (await (
      await api('POST', '/v1/jobs', { prompt: 'long', steps: 150, width: 256, height: 256 })
    ).json()) as { job_id: string };
    const queued = (await (
      await api('POST', '/v1/jobs', { prompt: 'waiting', steps: 2 })
    ).json()) as {
      job_id: string;
    };
    await page.locator('.stats', { hasText: /1 queued.*1 running/ }).waitFor();
    await api('DELETE', `/v1/jobs/${queued.job_id}`);
    await api('DELETE', `/v1/jobs/${long.job_id}`);
    await page.locator('.stats', { hasText: /0 queued.*0 running/ }).waitFor();
  });
});
