import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startAuthServer } from '../accounts/helpers.ts';

// Issue 16 item 5: with the results folder unwritable, waiting requests hung, async jobs stayed
// `running` unrefunded, and their event streams never ended.

test('unwritable results: the job fails with STORAGE_FAILED and is refunded; waiters answer, streams end', async () => {
  const s = await startAuthServer('sqlite');
  try {
    // A file where the results folder should be: every result write fails (ENOTDIR/EEXIST).
    const blobs = path.join(s.config.dataDir, 'blobs');
    mkdirSync(blobs, { recursive: true });
    writeFileSync(path.join(blobs, 'results'), 'not a folder');
    const { key } = await s.createKey({ name: 'storage', credits: 5 });
    const body = { prompt: 'a red circle', steps: 2 };

    const waited = await s.request('POST', '/v1/generate', { key, body });
    assert.equal(waited.status, 500);
    const problem = (await waited.json()) as { error_code: string };
    assert.equal(problem.error_code, 'STORAGE_FAILED');

    const accepted = await s.request('POST', '/v1/jobs', { key, body });
    assert.equal(accepted.status, 202);
    const { job_id } = (await accepted.json()) as { job_id: string };
    const stream = await s.request('GET', `/v1/jobs/${job_id}/events`, { key });
    const events = await stream.text(); // ends: the stream is closed after the final event
    assert.match(events, /event: failed\ndata: .*"code":"STORAGE_FAILED"/);
    const job = (await (await s.request('GET', `/v1/jobs/${job_id}`, { key })).json()) as {
      status: string;
    };
    assert.equal(job.status, 'failed');

    const balance = (await (await s.request('GET', '/v1/account/balance', { key })).json()) as {
      credits: number;
    };
    assert.equal(balance.credits, 5, 'both jobs refunded');
  } finally {
    await s.stop();
  }
});
