import assert from 'node:assert/strict';
import { availableParallelism, loadavg } from 'node:os';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { KyselyCreditStore } from '../../src/store/index.ts';
import { startAuthServer, type AuthServer } from '../accounts/helpers.ts';

/**
 * The bounded fuzz pass over bytes rather than JSON: broken multipart forms on the OpenAI edit
 * routes and damaged images (truncated, bit-flipped, lying headers, decompression bombs) on
 * `/v1/uploads`, from a fixed seed. Never a 5xx, never past a deadline, no worker death, a ledger
 * that adds up, and `/v1/health/live` responsive throughout.
 */
const SEED = 0xf0_12_16;
const CASES_PER_FAMILY = 200;
const DEADLINE_MS = 15_000;
const BOUNDARY = 'fuzzBoundary';

/** mulberry32, as in fuzz.test.ts. */
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

type Rng = () => number;
const int = (next: Rng, max: number) => Math.floor(next() * max);

/** Damages image bytes one of several ways; PNG header sizes may lie (0, huge, a bomb). */
function damageImage(next: Rng, image: Buffer): Buffer {
  const out = Buffer.from(image);
  switch (int(next, 7)) {
    case 0:
      return out.subarray(0, int(next, out.length));
    case 1:
      for (let i = 0; i < 1 + int(next, 20); i++) out[int(next, out.length)] = int(next, 256);
      return out;
    case 2: {
      const sizes = [0, 1, 16_000, 65_535, 2 ** 31 - 1, 2 ** 32 - 1];
      out.writeUInt32BE(sizes[int(next, sizes.length)] ?? 0, 16);
      out.writeUInt32BE(sizes[int(next, sizes.length)] ?? 0, 20);
      return out;
    }
    case 3:
      return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0xff, 0xff]), out]);
    case 4:
      return Buffer.concat([
        Buffer.from('RIFF\0\0\0\0WEBPVP8X'),
        Buffer.alloc(int(next, 30), 0xff),
      ]);
    case 5:
      return Buffer.alloc(int(next, 2000), int(next, 256));
    default:
      return out;
  }
}

function part(name: string | undefined, content: Buffer, filename?: string): Buffer {
  const disposition =
    name === undefined
      ? 'Content-Disposition: form-data'
      : `Content-Disposition: form-data; name="${name}"${filename === undefined ? '' : `; filename="${filename}"`}`;
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\n${disposition}\r\n\r\n`),
    content,
    Buffer.from('\r\n'),
  ]);
}

/** A broken edit form: parts duplicated, unnamed, unknown, damaged, too many, cut short. */
function damageForm(next: Rng, image: Buffer): { body: Buffer; contentType: string } {
  const parts: Buffer[] = [
    part('image', next() < 0.3 ? damageImage(next, image) : image, 'a.png'),
    part('prompt', Buffer.from('a cat')),
    part('size', Buffer.from(['256x256', 'auto', '0x0', '99999x1', ''][int(next, 5)] ?? '')),
  ];
  for (let i = 0; i < 1 + int(next, 3); i++) {
    switch (int(next, 8)) {
      case 0:
        parts.push(part('image[]', image, 'b.png'));
        break;
      case 1:
        parts.push(part(undefined, Buffer.from('no name')));
        break;
      case 2:
        parts.push(part('thumbnail', image, 't.png'));
        break;
      case 3:
        for (let k = 0; k < 70; k++) parts.push(part(`f${k}`, Buffer.from('x')));
        break;
      case 4:
        parts.push(part('mask', damageImage(next, image), 'm.png'));
        break;
      case 5:
        parts.push(part('n', Buffer.from(['0', '-1', '1e3', '99', 'NaN'][int(next, 5)] ?? '')));
        break;
      case 6:
        parts.push(Buffer.from(`--${BOUNDARY}\r\n${'H'.repeat(int(next, 20_000))}\r\n\r\nx\r\n`));
        break;
      default:
        parts.push(part('prompt', Buffer.from('x'.repeat(int(next, 20_000)))));
    }
  }
  let body = Buffer.concat([...parts, Buffer.from(`--${BOUNDARY}--\r\n`)]);
  const cut = next();
  if (cut < 0.15) body = body.subarray(0, int(next, body.length));
  const contentTypes = [
    `multipart/form-data; boundary=${BOUNDARY}`,
    'multipart/form-data',
    'multipart/form-data; boundary=other',
    `multipart/mixed; boundary=${BOUNDARY}`,
  ];
  return {
    body,
    contentType: next() < 0.85 ? (contentTypes[0] ?? '') : (contentTypes[int(next, 4)] ?? ''),
  };
}

let s: AuthServer;
let key: string;
let keyId: string;
let image: Buffer;

before(async () => {
  s = await startAuthServer('sqlite', {}, 1);
  ({ key, id: keyId } = await s.createKey({
    name: 'fuzz forms',
    credits: 100_000,
    rate_limit: 0,
    max_jobs: 0,
  }));
  image = await sharp({ create: { width: 64, height: 64, channels: 4, background: '#2255aa' } })
    .png()
    .toBuffer();
});
after(() => s.stop());

test('fuzz: broken multipart forms and damaged images', async () => {
  const next = random(SEED);
  const cases: { family: string; route: string; body: Buffer; contentType: string }[] = [];
  for (let i = 0; i < CASES_PER_FAMILY; i++) {
    const route = i % 2 === 0 ? '/v1/images/edits' : '/v1/images/variations';
    cases.push({ family: 'forms', route, ...damageForm(next, image) });
  }
  const uploadTypes = ['image/png', 'application/octet-stream', 'image/jpeg', 'image/webp'];
  for (let i = 0; i < CASES_PER_FAMILY; i++) {
    cases.push({
      family: 'uploads',
      route: '/v1/uploads',
      body: damageImage(next, image),
      contentType: uploadTypes[int(next, uploadTypes.length)] ?? '',
    });
  }

  const latencies: number[] = [];
  let fuzzing = true;
  const probe = (async () => {
    while (fuzzing) {
      const started = performance.now();
      await (await fetch(`${s.base}/v1/health/live`)).arrayBuffer();
      latencies.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();

  const failures: string[] = [];
  for (let i = 0; i < cases.length; i += 4) {
    await Promise.all(
      cases.slice(i, i + 4).map(async ({ family, route, body, contentType }, j) => {
        try {
          const res = await fetch(`${s.base}${route}`, {
            method: 'POST',
            headers: { 'content-type': contentType, authorization: `Bearer ${key}` },
            body,
            signal: AbortSignal.timeout(DEADLINE_MS),
          });
          const text = await res.text();
          if (res.status >= 500)
            failures.push(`${family} #${i + j} ${res.status} → ${text.slice(0, 200)}`);
        } catch (error) {
          failures.push(`${family} #${i + j} no answer (${(error as Error).message})`);
        }
      }),
    );
  }
  fuzzing = false;
  await probe;

  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
  console.log(
    `# fuzz forms: ${cases.length} cases (${CASES_PER_FAMILY} per family, seed ${SEED}), ` +
      `${failures.length} failures; health/live ${latencies.length} probes, p99 ${p99.toFixed(1)} ms; ` +
      `load ${loadavg()[0]?.toFixed(1)}`,
  );
  assert.deepEqual(failures, []);
  assert.equal(s.pictor.workers.restarts, 0, 'no worker died');
  const ledger = new KyselyCreditStore(s.db);
  assert.equal(await ledger.balance(keyId), await ledger.sum(keyId), 'the ledger adds up');
  // As in fuzz.test.ts: latency means something only when the machine is not oversubscribed.
  if ((loadavg()[0] ?? 0) > availableParallelism())
    console.log('# fuzz forms: machine oversubscribed; health/live p99 < 50 ms not asserted');
  else assert.ok(p99 < 50, `health/live p99 ${p99.toFixed(1)} ms`);
});
