// The studio in a real browser (Debian's Chromium through playwright-core) against a real server
// with the bundled `tiny` model and API keys on. One browser for the file, a fresh context (empty
// storage) per test. Skipped, saying so, when no Chromium is installed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import type { Pictor } from '../../src/cli/compose.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';
import { chromiumPath, launchChromium } from '../helpers/browser.ts';

const ADMIN_KEY = 'sk_test_admin_studio_0123456789abcdefghij';
const chromium = chromiumPath();
if (!chromium) console.log('note: no Chromium found; the studio browser tests are skipped');

interface Job {
  readonly job_id: string;
  readonly status: string;
  readonly parameters: { readonly init_image: string | null; readonly mask: string | null };
}

describe('studio in a browser', { skip: chromium === undefined }, () => {
  let pictor: Pictor;
  let base: string;
  let browser: Browser;
  let userKey: string;
  const contexts: BrowserContext[] = [];

  const api = async <T>(method: string, route: string, key: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    assert.ok(res.ok, `${method} ${route}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  const createKey = (fields: Record<string, unknown>): Promise<{ key: string; id: string }> =>
    api('POST', '/v1/admin/keys', ADMIN_KEY, fields);

  /** A page of the studio with `key` entered; every request it makes is recorded. */
  async function openStudio(key?: string): Promise<{ page: Page; requests: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(base);
    if (key !== undefined) {
      await page.locator('[name=api_key]').fill(key);
      await page.getByRole('button', { name: 'Use key' }).click();
    }
    return { page, requests };
  }

  before(async () => {
    pictor = await startPictor(
      testConfig({
        PICTOR_AUTH__ENABLED: 'true',
        PICTOR_AUTH__SIGNUP: 'true',
        PICTOR_ADMIN_KEY: ADMIN_KEY,
        PICTOR_WORKERS__ENGINE: 'onnx',
        PICTOR_WORKERS__INTRA_OP_THREADS: '1',
        PICTOR_QUEUE__MAX_BATCH: '1',
      }),
    );
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium(chromium ?? '');
    userKey = (await createKey({ name: 'studio user', credits: 1000 })).key;
  });
  after(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await pictor?.stop();
  });

  test('enter a key, generate with Ctrl+Enter, watch progress, see the image', async () => {
    const { page, requests } = await openStudio(userKey);
    await page.locator('[name=prompt]').fill('a red circle on a blue background');
    await page.locator('[name=size]').selectOption('128x128');
    await page.locator('[name=steps]').fill('25');
    // Record what the card showed while the job ran (it may be quick).
    await page.evaluate(() => {
      const seen = new Set<string>();
      (window as unknown as { seen: Set<string> }).seen = seen;
      new MutationObserver(() => {
        if (document.querySelector('.card progress')) seen.add('progress');
        if (document.querySelector('.card img.preview')) seen.add('preview');
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.locator('[name=prompt]').press('Control+Enter');
    const card = page.locator('.card').first();
    await card.locator('img.result').waitFor();
    assert.equal(await card.locator('.status').textContent(), 'completed');
    const seen = await page.evaluate(() => [...(window as unknown as { seen: Set<string> }).seen]);
    assert.deepEqual(seen.sort(), ['preview', 'progress']);
    const size = await card
      .locator('img.result')
      .evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight]);
    assert.deepEqual(size, [128, 128]);
    assert.match((await page.locator('.credits').textContent()) ?? '', /^999 credits$/);
    const foreign = requests.filter((u) => !u.startsWith(base) && !/^(data|blob):/.test(u));
    assert.deepEqual(foreign, [], 'the studio makes no request outside Pictor');
  });

  /** Resolves once the job's event stream says it started (no polling, no sleeps). */
  async function waitUntilRunning(jobId: string, key: string): Promise<void> {
    const res = await fetch(`${base}/v1/jobs/${jobId}/events`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const reader = res.body?.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (reader && !/event: (started|progress)/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader?.cancel();
  }

  test('a queued job shows its position and can be cancelled from its card', async () => {
    // A long job occupies the only worker, so the studio's job waits behind it; its steps are
    // short, so cancelling it frees the worker at once.
    const blocker = await api<{ job_id: string }>('POST', '/v1/jobs', userKey, {
      prompt: 'a blocker',
      width: 256,
      height: 256,
      steps: 150,
    });
    await waitUntilRunning(blocker.job_id, userKey);
    const { page } = await openStudio(userKey);
    await page.locator('[name=prompt]').fill('a queued square');
    await page.getByRole('main').getByRole('button', { name: 'Generate' }).click();
    const card = page.locator('.card', { hasText: 'a queued square' });
    await card.locator('.queue-position').waitFor();
    assert.match(
      (await card.locator('.queue-position').textContent()) ?? '',
      /^next in line · done in about \d+ s$/,
    );
    await card.getByRole('button', { name: 'Cancel' }).click();
    await card.locator('.status[data-status=cancelled]').waitFor();
    const jobId = await card.getAttribute('data-job-id');
    const job = await api<Job>('GET', `/v1/jobs/${jobId}`, userKey);
    assert.equal(job.status, 'cancelled');
    await api('DELETE', `/v1/jobs/${blocker.job_id}`, userKey);
  });

  test('img2img from a result, then a painted mask sent for inpainting', async () => {
    const { page } = await openStudio(userKey);
    await page.locator('[name=prompt]').fill('a yellow triangle on a black background');
    await page.getByRole('main').getByRole('button', { name: 'Generate' }).click();
    const first = page.locator('.card').first();
    await first.getByRole('button', { name: 'Use as init image' }).click();
    const painter = page.getByLabel('mask canvas');
    await painter.waitFor();
    // Paint a stroke across the middle of the image.
    const box = await painter.boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.8, box.y + box.height / 2, { steps: 8 });
    await page.mouse.up();
    await page.locator('[name=prompt]').fill('a green square');
    const submitted = page.waitForRequest(
      (r) => r.method() === 'POST' && r.url().endsWith('/v1/jobs'),
    );
    await page.getByRole('main').getByRole('button', { name: 'Generate' }).click();
    const body = (await submitted).postDataJSON() as {
      init_image: string;
      mask: string;
      strength: number;
    };
    assert.match(body.init_image, /^data:image\/png;base64,/);
    assert.equal(body.strength, 0.75);
    // The mask is white along the stroke and black at the corners.
    const mask = await sharp(Buffer.from(body.mask.split(',')[1] ?? '', 'base64'))
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number): number => mask.data[y * mask.info.width + x] ?? -1;
    const { width, height } = mask.info;
    assert.equal(at(width >> 1, height >> 1), 255);
    assert.equal(at(1, 1), 0);
    assert.equal(at(width - 2, height - 2), 0);
    const second = page.locator('.card', { hasText: 'a green square' });
    await second.locator('img.result').waitFor();
    const job = await api<Job>(
      'GET',
      `/v1/jobs/${await second.getAttribute('data-job-id')}`,
      userKey,
    );
    assert.equal(job.status, 'completed');
    assert.notEqual(job.parameters.init_image, null);
    assert.notEqual(job.parameters.mask, null);
  });

  test('mask tools: an init image from a file, invert, then clear (no mask sent)', async () => {
    const { page } = await openStudio(userKey);
    const init = await sharp({
      create: { width: 64, height: 64, channels: 3, background: '#3366cc' },
    })
      .png()
      .toBuffer();
    await page
      .locator('[name=init_image_file]')
      .setInputFiles({ name: 'init.png', mimeType: 'image/png', buffer: init });
    const painter = page.getByLabel('mask canvas');
    await painter.waitFor();
    const box = await painter.boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 4 });
    await page.mouse.up();
    await page.getByRole('button', { name: 'Invert' }).click();
    await page.locator('[name=prompt]').fill('inverted mask');
    const submitted = async (): Promise<{ mask?: string; init_image?: string }> => {
      const request = page.waitForRequest(
        (r) => r.method() === 'POST' && r.url().endsWith('/v1/jobs'),
      );
      await page.getByRole('main').getByRole('button', { name: 'Generate' }).click();
      return (await request).postDataJSON() as { mask?: string; init_image?: string };
    };
    const inverted = await submitted();
    const mask = await sharp(Buffer.from(inverted.mask?.split(',')[1] ?? '', 'base64'))
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number): number => mask.data[y * mask.info.width + x] ?? -1;
    assert.equal(at(32, 32), 0, 'the stroke is kept after inverting');
    assert.equal(at(2, 2), 255, 'everything else is repainted');
    await page.getByRole('button', { name: 'Clear mask' }).click();
    await page.locator('[name=prompt]').fill('no mask');
    const cleared = await submitted();
    assert.equal(cleared.mask, undefined);
    assert.match(cleared.init_image ?? '', /^data:image\/png;base64,/);
    await page.locator('.card', { hasText: 'no mask' }).locator('img.result').waitFor();
  });

  test('a PNG Pictor made, dropped on the page, fills the form from its embedded parameters', async () => {
    const res = await fetch(`${base}/v1/generate/raw`, {
      method: 'POST',
      headers: { authorization: `Bearer ${userKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        prompt: 'a blue star, "quoted", on white',
        negative_prompt: 'red',
        seed: 1234,
        steps: 7,
        guidance_scale: 3,
        scheduler: 'euler_a',
        width: 96,
        height: 64,
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const png = Buffer.from(await res.arrayBuffer()).toString('base64');
    const { page } = await openStudio(userKey);
    await page.locator('[name=prompt]').waitFor();
    const drop = page.locator('.reproduce');
    const transfer = await page.evaluateHandle((base64) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], 'made-by-pictor.png', { type: 'image/png' }));
      return data;
    }, png);
    await drop.dispatchEvent('drop', { dataTransfer: transfer });
    await page.getByRole('status').filter({ hasText: 'filled from made-by-pictor.png' }).waitFor();
    assert.equal(
      await page.locator('[name=prompt]').inputValue(),
      'a blue star, "quoted", on white',
    );
    assert.equal(await page.locator('[name=negative_prompt]').inputValue(), 'red');
    assert.equal(await page.locator('[name=seed]').inputValue(), '1234');
    assert.equal(await page.locator('[name=steps]').inputValue(), '7');
    assert.equal(await page.locator('[name=guidance_scale]').inputValue(), '3');
    assert.equal(await page.locator('[name=scheduler]').inputValue(), 'euler_a');
    assert.equal(await page.locator('[name=size]').inputValue(), '96x64');
    assert.equal(await page.locator('[name=seed_locked]').isChecked(), true);
  });

  test('the results gallery: expiry countdown, reuse parameters, delete', async () => {
    const done = await api<{ job_id: string; seed: number }>('POST', '/v1/generate', userKey, {
      prompt: 'a gallery circle',
      steps: 6,
    });
    const { page } = await openStudio(userKey);
    const tabs = page.getByRole('navigation', { name: 'pages' });
    await tabs.getByRole('button', { name: 'Results' }).click();
    const item = page.locator(`.gallery-item[data-job-id="${done.job_id}"]`);
    await item.locator('img.result').waitFor();
    assert.match((await item.locator('.expiry').textContent()) ?? '', /^expires in \d+:\d\d$/);
    await item.getByRole('button', { name: 'Reuse parameters' }).click();
    assert.equal(await page.locator('[name=prompt]').inputValue(), 'a gallery circle');
    assert.equal(await page.locator('[name=seed]').inputValue(), String(done.seed));
    assert.equal(await page.locator('[name=steps]').inputValue(), '6');
    await tabs.getByRole('button', { name: 'Results' }).click();
    await item.getByRole('button', { name: 'Delete' }).click();
    await item.getByText('result deleted or expired').waitFor();
    const gone = await fetch(`${base}/v1/jobs/${done.job_id}/image`, {
      headers: { authorization: `Bearer ${userKey}` },
    });
    assert.equal(gone.status, 410);
  });

  test('an unknown key and an exhausted balance show the API problem in the page', async () => {
    const unknown = await openStudio('sk_not_a_key_at_all');
    await unknown.page.getByRole('alert').waitFor();
    assert.match((await unknown.page.getByRole('alert').textContent()) ?? '', /key/i);

    const broke = await createKey({ name: 'broke', credits: 0 });
    const { page } = await openStudio(broke.key);
    await page.locator('[name=prompt]').fill('anything');
    await page.getByRole('main').getByRole('button', { name: 'Generate' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = (await alert.textContent()) ?? '';
    assert.match(text, /credit/i, text);
    assert.equal(await page.locator('.card').count(), 0);
  });

  test('an admin creates a key and sees its secret once', async () => {
    const { page } = await openStudio(ADMIN_KEY);
    await page
      .getByRole('navigation', { name: 'pages' })
      .getByRole('button', { name: 'Admin' })
      .click();
    const form = page.getByRole('form', { name: 'create a key' });
    await form.locator('[name=name]').fill('made in the studio');
    await form.locator('[name=credits]').fill('25');
    await form.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.locator('.created-key .secret').textContent()) ?? '';
    assert.match(secret, /^sk_/);
    // The secret works, with the credits given.
    const balance = await api<{ credits: number; name: string }>(
      'GET',
      '/v1/account/balance',
      secret,
    );
    assert.deepEqual([balance.name, balance.credits], ['made in the studio', 25]);
    // The list shows the new key by its prefix, never its secret; once dismissed it is gone.
    const row = page.locator('tr', { hasText: 'made in the studio' });
    await row.waitFor();
    await page.getByRole('button', { name: 'Done' }).click();
    // Grant credits, set the rate limit, deactivate — each seen in the list and by the API.
    await row.getByLabel('credits to add').fill('10');
    await row.getByRole('button', { name: 'Grant' }).click();
    await row.locator('td:nth-child(4)', { hasText: /^35$/ }).waitFor();
    await row.getByLabel('requests per minute (0 = no limit)').fill('30');
    await row.getByRole('button', { name: 'Set limit' }).click();
    await row.locator('td:nth-child(5)', { hasText: /^30\/min$/ }).waitFor();
    const granted = await api<{ credits: number; rate_limit: number }>(
      'GET',
      '/v1/account/balance',
      secret,
    );
    assert.deepEqual([granted.credits, granted.rate_limit], [35, 30]);
    await row.getByRole('button', { name: 'Deactivate' }).click();
    await row.locator('td:nth-child(6)', { hasText: /^deactivated$/ }).waitFor();
    const refused = await fetch(`${base}/v1/account/balance`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    assert.equal(refused.status, 401);
    assert.equal((await page.content()).includes(secret), false);
    await page.reload();
    await page
      .getByRole('navigation', { name: 'pages' })
      .getByRole('button', { name: 'Admin' })
      .click();
    await page.locator('tr', { hasText: 'made in the studio' }).waitFor();
    assert.equal((await page.content()).includes(secret), false);
  });

  test('with sign-up open, a new user signs up and the studio makes the browser a key', async () => {
    const { page } = await openStudio();
    const form = page.getByRole('form', { name: 'sign in' });
    await form.locator('[name=username]').fill('studio-user');
    await form.locator('[name=password]').fill('a long enough password');
    await form.getByRole('button', { name: 'Sign up' }).click();
    await page.locator('.credits', { hasText: /^0 credits$/ }).waitFor();
    const stored = (await page.evaluate(() => localStorage.getItem('pictor.apiKey'))) ?? '';
    assert.match(stored, /^sk_/);
    const balance = await api<{ name: string; credits: number }>(
      'GET',
      '/v1/account/balance',
      stored,
    );
    assert.deepEqual([balance.name, balance.credits], ['studio', 0]);
  });

  test('fits a phone-sized screen without sideways scrolling', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
    });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(base);
    await page.locator('[name=api_key]').fill(userKey);
    await page.getByRole('button', { name: 'Use key' }).click();
    await page.locator('[name=prompt]').waitFor();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  });
});
