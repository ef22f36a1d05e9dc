// `npm run screenshots`: regenerates docs/studio/*.png — the studio's main screens, against a real
// server with the bundled `tiny` model (temporary data dir), in Debian's Chromium.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { createPictor } from '../../src/cli/compose.ts';
import { loadConfig } from '../../src/config/index.ts';

const root = path.resolve(import.meta.dirname, '../..');
const out = path.join(root, 'docs/studio');
const dataDir = mkdtempSync(path.join(tmpdir(), 'pictor-screenshots-'));
const adminKey = 'sk_screenshots_admin_0123456789abcdef';

const config = loadConfig({
  cwd: dataDir,
  env: {
    PICTOR_DATA_DIR: dataDir,
    PICTOR_ADMIN_KEY: adminKey,
    PICTOR_WORKERS__INTRA_OP_THREADS: '1',
    PICTOR_MODELS__LIST: JSON.stringify([{ name: 'tiny', path: path.join(root, 'models/tiny') }]),
  },
  flags: { 'log.level': 'warn', 'log.file': '' },
});
// A second model in the library folder, as a pull would leave it, for the Models page.
cpSync(path.join(root, 'models/tiny'), path.join(config.models.dir, 'tiny-pulled'), {
  recursive: true,
});
writeFileSync(
  path.join(config.models.dir, 'tiny-pulled.pictor.json'),
  JSON.stringify({ source: 'hf:pictor/tiny-pulled@main' }),
);
const pictor = await createPictor(config, { logger: false });
await pictor.start();
await pictor.workers.ready();
const base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
const browser = await chromium.launch({
  executablePath: process.env['PICTOR_CHROMIUM'] ?? '/usr/bin/chromium',
  args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
});

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
  console.log(`docs/studio/${name}.png`);
}

async function generate(page: Page, prompt: string, n: number): Promise<void> {
  await page.locator('[name=prompt]').fill(prompt);
  await page.locator('[name=n]').fill(String(n));
  await page.getByRole('main').getByRole('button', { name: 'Generate' }).click();
  await page
    .locator('.card', { hasText: prompt })
    .locator('img.result')
    .nth(n - 1)
    .waitFor();
}

try {
  mkdirSync(out, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await context.newPage();
  await page.goto(base);
  await page.locator('[name=api_key]').fill(adminKey);
  await page.getByRole('button', { name: 'Use key' }).click();
  await generate(page, 'a yellow triangle on a black background', 1);
  await generate(page, 'a red circle on a blue background', 2);
  await shoot(page, 'generate');

  await page
    .locator('.card')
    .first()
    .getByRole('button', { name: 'Use as init image' })
    .first()
    .click();
  const canvas = page.getByLabel('mask canvas');
  const box = await canvas.boundingBox();
  if (box) {
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.6, { steps: 10 });
    await page.mouse.up();
  }
  await shoot(page, 'inpaint');

  const tabs = page.getByRole('navigation', { name: 'pages' });
  await tabs.getByRole('button', { name: 'Results' }).click();
  await page.locator('.gallery-item img.result').first().waitFor();
  await shoot(page, 'results');

  await tabs.getByRole('button', { name: 'Admin' }).click();
  const create = page.getByRole('form', { name: 'create a key' });
  await create.locator('[name=name]').fill('mobile app');
  await create.getByRole('button', { name: 'Create key' }).click();
  await page.locator('.created-key').waitFor();
  await shoot(page, 'admin-keys');
  await page.getByRole('button', { name: 'Usage' }).click();
  await page.locator('.chart svg').first().waitFor();
  await shoot(page, 'admin-usage');
  await page.getByRole('button', { name: 'Queue' }).click();
  await page.locator('.queue table').waitFor();
  await shoot(page, 'admin-queue');
  await page.getByRole('button', { name: 'Models' }).click();
  await page.locator('tr[data-model=tiny-pulled]').waitFor();
  await shoot(page, 'admin-models');

  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    isMobile: true,
    colorScheme: 'dark',
  });
  const mobile = await phone.newPage();
  await mobile.goto(base);
  await mobile.locator('[name=api_key]').fill(adminKey);
  await mobile.getByRole('button', { name: 'Use key' }).click();
  await generate(mobile, 'a green square on a white background', 1);
  await shoot(mobile, 'phone-dark');
} finally {
  await browser.close();
  await pictor.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
