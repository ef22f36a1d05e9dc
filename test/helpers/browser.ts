import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where a Chromium may be: `PICTOR_TEST_CHROMIUM`, else Debian's and the usual names. */
const CANDIDATES = [
  process.env['PICTOR_TEST_CHROMIUM'],
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
];

/** The installed Chromium, or undefined (browser suites then skip, saying so). */
export function chromiumPath(): string | undefined {
  return CANDIDATES.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
}

/** A headless Chromium; root (CI containers) needs the sandbox off. */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}
