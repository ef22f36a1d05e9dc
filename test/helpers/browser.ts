import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where a Chromium may be: `PICTOR_TEST_CHROMIUM`, else Debian's and the usual names. */
const CANDIDATES = [
  process.env['PICTOR_TEST_CHROMIUM'],
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
];

/**
 * The installed Chromium, or undefined: browser suites then skip, saying so — except in CI
 * (`PICTOR_TEST_REQUIRE_SERVICES=1`, where `.ci/run` installs it), where a missing one fails.
 */
export function chromiumPath(): string | undefined {
  const found = CANDIDATES.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
  if (found === undefined && process.env['PICTOR_TEST_REQUIRE_SERVICES'] === '1')
    throw new Error(
      'no Chromium found (set PICTOR_TEST_CHROMIUM), and CI requires the browser tests',
    );
  return found;
}

/** A headless Chromium; root (CI containers) needs the sandbox off. */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}
