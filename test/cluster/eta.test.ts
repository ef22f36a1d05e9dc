// Queue ETAs on an API node come from the worker nodes' measured step times (advertised with
// their models), not from the estimator's defaults: the same workload — the fake engine at a fixed
// 100 ms step, three jobs to measure, then four submitted back to back — gets each job's
// `expected_time_seconds` on an API node within 25% of what `pictor serve` answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN_KEY, startCluster } from '../helpers/cluster-nodes.ts';
import { postgresUnavailable } from '../helpers/databases.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';
import { eventually, redisUnavailable } from '../helpers/redis.ts';

const skip = (await redisUnavailable()) ?? (await postgresUnavailable());
const STEP_MS = 100;
const TOLERANCE = 0.25;
const JOB = { prompt: 'a clock', steps: 10, width: 64, height: 64 };
/** One job per batch in both modes: the forecast compared is the queue's, not batching's. */
const SETTINGS = { PICTOR_QUEUE__MAX_BATCH: '1' };

type Call = (method: string, route: string, body?: unknown) => Promise<Record<string, unknown>>;

function caller(base: string, headers: Record<string, string>): Call {
  return async (method, route, body) => {
    const response = await fetch(`${base}${route}`, {
      method,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await response.json()) as Record<string, unknown>;
    return { ...json, httpStatus: response.status };
  };
}

/** Three jobs run one after another: what the estimator measures. */
async function warmUp(call: Call): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const answer = await call('POST', '/v1/generate', JOB);
    assert.equal(answer['httpStatus'], 200, JSON.stringify(answer));
  }
}

/** Four jobs submitted back to back on an idle queue: each one's expected time, in seconds. */
async function burst(call: Call): Promise<number[]> {
  const expected: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const answer = await call('POST', '/v1/jobs', JOB);
    assert.equal(answer['httpStatus'], 202, JSON.stringify(answer));
    expected.push(Number(answer['expected_time_seconds']));
    ids.push(String(answer['job_id']));
  }
  for (const id of ids) {
    await eventually(async () => {
      const job = await call('GET', `/v1/jobs/${id}`);
      return job['status'] === 'completed' ? true : undefined;
    }, 60_000);
  }
  return expected;
}

function within(actual: number, reference: number): boolean {
  return Math.abs(actual - reference) <= TOLERANCE * reference;
}

test(
  "an API node's expected times match the embedded mode's for the same workload (fake engine, 100 ms steps)",
  { skip, timeout: 240_000 },
  async (t) => {
    const embedded = await startPictor(testConfig(SETTINGS), STEP_MS);
    let reference: number[];
    try {
      const local = caller(await embedded.app.listen({ host: '127.0.0.1', port: 0 }), {});
      await warmUp(local);
      reference = await burst(local);
    } finally {
      await embedded.stop();
    }
    // The measured step time is what the forecast is built on: ten steps, 100 ms each.
    assert.ok(reference[0] !== undefined && reference[0] >= 1, `embedded: ${reference.join(', ')}`);

    const c = await startCluster(t, {
      env: { ...SETTINGS, PICTOR_WORKERS__FAKE_STEP_MS: String(STEP_MS) },
    });
    const api = await c.api();
    await c.worker();
    const call = caller(api.url, { authorization: `Bearer ${ADMIN_KEY}` });
    await eventually(async () => {
      const answer = await call('POST', '/v1/generate', JOB);
      return answer['httpStatus'] === 200 ? true : undefined;
    }, 30_000);
    await warmUp(call);
    // The measurements reach the API node with the worker's next advertisement (renewed every
    // third of the lease) and the node's next read of the board: probe (and cancel) until then.
    await eventually(async () => {
      const probe = await call('POST', '/v1/jobs', JOB);
      await call('DELETE', `/v1/jobs/${String(probe['job_id'])}`);
      return within(Number(probe['expected_time_seconds']), reference[0] ?? 0) ? true : undefined;
    }, 60_000);
    const clustered = await burst(call);
    const report = `cluster ${clustered.join(', ')} s vs embedded ${reference.join(', ')} s`;
    for (const [i, seconds] of clustered.entries()) {
      assert.ok(within(seconds, reference[i] ?? 0), `job ${i + 1}: ${report}`);
    }
    t.diagnostic(report);
  },
);
