// MODEL_UNAVAILABLE's Retry-After comes from what the server knows about its workers — the
// restart delay left and how long a worker took to start — not a fixed number of seconds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPictor } from '../../src/cli/compose.ts';
import { ProblemError } from '../../src/errors/index.ts';
import { testConfig } from '../helpers/pictor.ts';

const RESTART_DELAY_MS = 3000;

async function until(condition: () => boolean, what: string): Promise<void> {
  for (const end = Date.now() + 20_000; Date.now() < end; await sleep(10)) {
    if (condition()) return;
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('workers: ready in 0 ms while one is live; a dead one is the restart delay left plus a start away', async () => {
  const startedAt = Date.now();
  const p = await createPictor(
    testConfig({ PICTOR_WORKERS__RESTART_DELAY_MS: String(RESTART_DELAY_MS) }),
    { logger: false },
  );
  try {
    await p.start();
    await p.workers.ready();
    const firstStartMs = Date.now() - startedAt; // at least what the worker's start took
    assert.equal(p.workers.readyInMs(), 0);
    const [pid] = p.workers.pids();
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    await until(() => p.workers.liveCount() === 0, 'the worker to die');
    const wait = p.workers.readyInMs();
    // Most of the delay is left (the death was seen within a few polls), plus the start.
    assert.ok(wait >= RESTART_DELAY_MS - 1000, `${wait} ms`);
    assert.ok(wait <= RESTART_DELAY_MS + firstStartMs, `${wait} ms`);
    await p.workers.ready();
  } finally {
    await p.stop();
  }
});

test('before any worker is ready: 503 MODEL_UNAVAILABLE, Retry-After from the start under way', async (t) => {
  const p = await createPictor(testConfig(), { logger: false });
  try {
    await p.start();
    const caller = { owner: 'local', maxPriority: 0 };
    const expected = Math.max(1, Math.ceil(p.workers.readyInMs() / 1000));
    if (p.workers.liveCount() > 0) {
      t.skip('the worker was up before the request could be made');
      return;
    }
    const error = await p.service.submit(caller, { prompt: 'early' }).then(
      () => assert.fail('accepted'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ProblemError);
    assert.equal(error.code, 'MODEL_UNAVAILABLE');
    const retryAfter = Number(error.headers['retry-after']);
    assert.ok(retryAfter >= 1 && Math.abs(retryAfter - expected) <= 1, `${retryAfter}`);
    assert.equal(error.extensions['retry_after'], retryAfter);
  } finally {
    await p.stop();
  }
});
