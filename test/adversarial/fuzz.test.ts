import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { availableParallelism, loadavg } from 'node:os';
import { KyselyCreditStore, openDatabase } from '../../src/store/index.ts';
import { ADMIN_KEY, newDataDir, spawnServer, type ServerProcess } from '../accounts/helpers.ts';

/**
 * A bounded fuzz pass: a few hundred generated hostile bodies per route family, from a fixed
 * seed, on loopback. Asserts never a 5xx, never an answer later than a deadline, no worker death,
 * a ledger that adds up, and a responsive `/v1/health/live` throughout. The server runs in a
 * process of its own, as in production: the fuzzing client's own work (building bodies, parsing
 * answers) must not count as the server's latency.
 */
const SEED = 0x5eed_16;
const CASES_PER_FAMILY = 250;
const DEADLINE_MS = 15_000;

/** mulberry32: small, seedable, good enough to pick mutations reproducibly. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE_VALUES: readonly unknown[] = [
  null,
  -1,
  0,
  2 ** 53,
  -(2 ** 31),
  1.5,
  '1e3',
  '0x1',
  '',
  ' ',
  'NaN',
  true,
  [],
  {},
  [[[[[[1]]]]]],
  'a\u0000b',
  '\ud800',
  'x'.repeat(20_000),
  ' '.repeat(5_000),
  '<script>',
  "'; DROP TABLE jobs; --",
  '../../etc/passwd',
  'data:image/png;base64,AAAA',
  'http://169.254.169.254/latest',
  { $ne: 1 },
  { __proto__: { polluted: true } },
];

interface Family {
  readonly name: string;
  readonly route: string;
  readonly key: () => string;
  readonly base: Record<string, unknown>;
  readonly fields: readonly string[];
}

function mutate(next: () => number, family: Family): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const body: Record<string, unknown> = { ...family.base };
  const mutations = 1 + Math.floor(next() * 3);
  for (let i = 0; i < mutations; i++) {
    const roll = next();
    if (roll < 0.7) body[pick(family.fields)] = pick(HOSTILE_VALUES);
    else if (roll < 0.8) delete body[pick(family.fields)];
    else body[`unknown_${Math.floor(next() * 5)}`] = pick(HOSTILE_VALUES);
  }
  const text = JSON.stringify(body);
  const damage = next();
  if (damage < 0.06) return text.slice(0, Math.floor(next() * text.length)); // truncated
  if (damage < 0.09) return `${'['.repeat(5000)}${text}`; // deep and broken
  if (damage < 0.11) return text.replace(/"/, "'"); // not JSON
  return text;
}

let server: ServerProcess;
let dataDir: string;
let userKey: string;
let userKeyId: string;
let targetKeyId: string;

async function createKey(fields: Record<string, unknown>): Promise<{ key: string; id: string }> {
  const res = await fetch(`${server.base}/v1/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(fields),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as { key: string; id: string };
}

/** The server's own event-loop delay p99 (ms) since the last scrape (prom-client resets it). */
async function serverLoopDelayP99(): Promise<number> {
  const res = await fetch(`${server.base}/metrics`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  const line = /^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(await res.text());
  return Number(line?.[1] ?? NaN) * 1000;
}

before(async () => {
  dataDir = newDataDir();
  server = await spawnServer(dataDir, {
    PICTOR_AUTH__ENABLED: 'true',
    PICTOR_ADMIN_KEY: ADMIN_KEY,
    PICTOR_QUEUE__MAX_QUEUED: '5000',
    PICTOR_LOG__LEVEL: 'warn',
  });
  ({ key: userKey, id: userKeyId } = await createKey({
    name: 'fuzz',
    credits: 100_000,
    rate_limit: 0,
    max_jobs: 0,
    priority: 2,
  }));
  ({ id: targetKeyId } = await createKey({ name: 'fuzz target', credits: 5 }));
});
after(async () => {
  server.child.kill('SIGTERM');
  await server.exited;
});

test('fuzz: hostile bodies on native, OpenAI, A1111 and admin routes', async () => {
  const generation = ['prompt', 'negative_prompt', 'width', 'height', 'steps', 'seed', 'n'];
  const families: Family[] = [
    {
      name: 'native',
      route: '/v1/jobs',
      key: () => userKey,
      base: { prompt: 'a red circle', steps: 1 },
      fields: [
        ...generation,
        'guidance_scale',
        'scheduler',
        'output_format',
        'quality',
        'init_image',
        'mask',
        'strength',
        'webhook_url',
        'priority',
        'model',
      ],
    },
    {
      name: 'openai',
      route: '/v1/images/generations',
      key: () => userKey,
      base: { prompt: 'a red circle', size: '64x64', quality: 'low' },
      fields: [
        'prompt',
        'n',
        'size',
        'quality',
        'response_format',
        'output_format',
        'model',
        'output_compression',
        'background',
        'user',
      ],
    },
    {
      name: 'a1111',
      route: '/sdapi/v1/txt2img',
      key: () => userKey,
      base: { prompt: 'a red circle', steps: 1, width: 64, height: 64 },
      fields: [
        ...generation,
        'cfg_scale',
        'sampler_name',
        'scheduler',
        'batch_size',
        'n_iter',
        'override_settings',
        'alwayson_scripts',
        'denoising_strength',
      ],
    },
    {
      name: 'admin',
      route: '/v1/admin/keys',
      key: () => ADMIN_KEY,
      base: { name: 'fuzzed', credits: 1 },
      fields: [
        'name',
        'credits',
        'rate_limit',
        'max_jobs',
        'expires_at',
        'scopes',
        'priority',
        'active',
      ],
    },
  ];

  // Health is probed throughout, one request at a time, on its own connection pool.
  const latencies: number[] = [];
  // The server's event-loop delay is what hostile input could inflate: read from its metrics.
  await serverLoopDelayP99(); // starts the server's histogram afresh
  let fuzzing = true;
  const probe = (async () => {
    while (fuzzing) {
      const started = performance.now();
      const res = await fetch(`${server.base}/v1/health/live`);
      await res.arrayBuffer();
      latencies.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();

  const failures: string[] = [];
  let tried = 0;
  const next = random(SEED);
  for (const family of families) {
    const bodies = Array.from({ length: CASES_PER_FAMILY }, () => mutate(next, family));
    const credits = (i: number) =>
      family.name === 'admin' && i % 5 === 0
        ? { route: `/v1/admin/keys/${targetKeyId}/credits`, body: bodies[i] ?? '' }
        : { route: family.route, body: bodies[i] ?? '' };
    // Four at a time: enough to overlap requests without queueing the whole family at once.
    for (let i = 0; i < bodies.length; i += 4) {
      await Promise.all(
        [0, 1, 2, 3].map(async (j) => {
          if (i + j >= bodies.length) return;
          const { route, body } = credits(i + j);
          tried++;
          try {
            const res = await fetch(`${server.base}${route}`, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                authorization: `Bearer ${family.key()}`,
              },
              body,
              signal: AbortSignal.timeout(DEADLINE_MS),
            });
            const text = await res.text();
            if (res.status >= 500)
              failures.push(
                `${family.name} ${res.status} ${body.slice(0, 200)} → ${text.slice(0, 200)}`,
              );
          } catch (error) {
            failures.push(
              `${family.name} no answer (${(error as Error).message}) ${body.slice(0, 200)}`,
            );
          }
        }),
      );
    }
  }
  fuzzing = false;
  await probe;
  const loopP99 = await serverLoopDelayP99();

  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
  console.log(
    `# fuzz: ${tried} cases (${CASES_PER_FAMILY} per family, seed ${SEED}), ${failures.length} failures; ` +
      `health/live ${latencies.length} probes, p99 ${p99.toFixed(1)} ms; event-loop delay p99 ${loopP99.toFixed(1)} ms; load ${loadavg()[0]?.toFixed(1)}`,
  );
  assert.deepEqual(failures, []);
  assert.doesNotMatch(server.output(), /worker died/, 'no worker died');
  assert.equal(server.child.exitCode, null, 'the server never exited');
  const db = await openDatabase({ driver: 'sqlite', url: path.join(dataDir, 'pictor.db') });
  try {
    const ledger = new KyselyCreditStore(db);
    for (const id of [userKeyId, targetKeyId]) {
      assert.equal(await ledger.balance(id), await ledger.sum(id), `ledger of ${id} adds up`);
    }
  } finally {
    await db.destroy();
  }
  // Latency is only meaningful on a machine that is not oversubscribed: with more runnable
  // processes than cores, any process waits for a CPU regardless of what the server does.
  const busy = (loadavg()[0] ?? 0) > availableParallelism();
  if (busy) console.log('# fuzz: machine oversubscribed; health/live p99 < 50 ms not asserted');
  else assert.ok(p99 < 50, `health/live p99 ${p99.toFixed(1)} ms`);
});
