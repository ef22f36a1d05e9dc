import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type PictorConfig } from '../../src/config/index.ts';
import { createPictor, type Pictor } from '../../src/cli/compose.ts';

/**
 * A config for tests: temp data dir, fake engine unless told otherwise, private webhooks allowed,
 * auth off (`PICTOR_AUTH__ENABLED: 'true'` turns API keys on; test/accounts does).
 */
export function testConfig(
  env: Record<string, string> = {},
  dataDir = mkdtempSync(path.join(tmpdir(), 'pictor-test-')),
): PictorConfig {
  return loadConfig({
    cwd: path.resolve(import.meta.dirname, '../..'),
    env: {
      PICTOR_DATA_DIR: dataDir,
      PICTOR_WORKERS__ENGINE: 'fake',
      PICTOR_WORKERS__RESTART_DELAY_MS: '50',
      PICTOR_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES: 'true',
      PICTOR_WEBHOOKS__INITIAL_BACKOFF_MS: '50',
      PICTOR_SERVER__SHUTDOWN_TIMEOUT_SECONDS: '5',
      PICTOR_AUTH__ENABLED: 'false',
      ...env,
    },
    file: path.resolve(import.meta.dirname, 'empty.yaml'),
  });
}

export async function startPictor(config: PictorConfig, fakeStepMs = 20): Promise<Pictor> {
  const pictor = await createPictor(config, { logger: false, fakeStepMs });
  await pictor.start();
  await pictor.workers.ready();
  return pictor;
}
