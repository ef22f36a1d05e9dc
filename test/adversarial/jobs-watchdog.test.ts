import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { Pictor } from '../../src/cli/compose.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';
import { jobEvent } from '../helpers/job-events.ts';

// Issue 16 item 6: a stopped (SIGSTOP) or hung worker used to hang every request while
// `/v1/health/ready` said ok.

const caller = { owner: 'local', maxPriority: 0 };
const STEP_TIMEOUT_MS = 800;

function config(devices: string[]) {
  return testConfig({
    PICTOR_WORKERS__DEVICES: JSON.stringify(devices),
    PICTOR_WORKERS__STEP_TIMEOUT_MS: String(STEP_TIMEOUT_MS),
  });
}

/** Stops the worker running `jobId` once the job has made a step; returns its pid. */
async function stopItsWorker(pictor: Pictor, jobId: string, after = 0): Promise<number> {
  await jobEvent(pictor.events, jobId, caller.owner, (e) => e.type === 'progress', after);
  const [pid] = pictor.workers.busyPids();
  assert.ok(pid !== undefined, 'a worker is busy with the job');
  process.kill(pid, 'SIGSTOP');
  return pid;
}

/** Lets stopped workers the watchdog has not killed go on (so they can exit). */
function resume(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // killed by the watchdog, as expected
    }
  }
}

/** Polls readiness until `predicate` holds (the condition, not a fixed time, ends the wait). */
async function readinessUntil(
  pictor: Pictor,
  predicate: (status: number, body: string) => boolean,
): Promise<{ status: number; body: string }> {
  for (;;) {
    const res = await pictor.app.inject({ method: 'GET', url: '/v1/health/ready' });
    if (predicate(res.statusCode, res.body)) return { status: res.statusCode, body: res.body };
    await sleep(50);
  }
}

test('a SIGSTOPped worker is killed at the step deadline; its job is retried on the other worker and completes', async () => {
  const pictor = await startPictor(config(['cpu', 'cpu']), 40);
  const stopped: number[] = [];
  try {
    const { job } = await pictor.service.submit(caller, { prompt: 'a red circle', steps: 30 });
    stopped.push(await stopItsWorker(pictor, job.id));
    const retried = await jobEvent(
      pictor.events,
      job.id,
      caller.owner,
      (e) => e.type === 'started' && e.data.attempt === 2,
    );
    assert.ok(retried);
    assert.ok(!stopped.includes(pictor.workers.busyPids()[0] ?? -1), 'retried elsewhere');
    const final = await pictor.service.waitForFinal(caller, job);
    assert.equal(final.status, 'completed');
    assert.equal(final.attempts, 2);
    const ready = await pictor.app.inject({ method: 'GET', url: '/v1/health/ready' });
    assert.equal(ready.statusCode, 200, ready.body);
  } finally {
    resume(stopped);
    await pictor.stop();
  }
});

test('a job whose worker hangs twice fails with WORKER_DIED and frees the worker; readiness reports the hung worker', async () => {
  const pictor = await startPictor(config(['cpu']), 40);
  const stopped: number[] = [];
  try {
    const { job } = await pictor.service.submit(caller, { prompt: 'a blue square', steps: 30 });
    stopped.push(await stopItsWorker(pictor, job.id));
    const notReady = await readinessUntil(pictor, (status) => status === 503);
    assert.match(
      notReady.body,
      /"worker":\{"status":"fail","reason":"no (worker answers|live worker)/,
    );
    const retry = await jobEvent(
      pictor.events,
      job.id,
      caller.owner,
      (e) => e.type === 'queued' && e.data.retry === true,
    );
    stopped.push(await stopItsWorker(pictor, job.id, retry.seq));
    const final = await pictor.service.waitForFinal(caller, job);
    assert.equal(final.status, 'failed');
    assert.equal(final.error?.code, 'WORKER_DIED');
    assert.match(final.error?.message ?? '', /stopped answering/);
    assert.equal(final.attempts, 2);
    // The restarted worker takes new work.
    await readinessUntil(pictor, (status) => status === 200);
    const { job: next } = await pictor.service.submit(caller, { prompt: 'a green star', steps: 2 });
    assert.equal((await pictor.service.waitForFinal(caller, next)).status, 'completed');
  } finally {
    resume(stopped);
    await pictor.stop();
  }
});
