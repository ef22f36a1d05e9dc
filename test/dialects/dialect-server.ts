import { randomBytes } from 'node:crypto';
import path from 'node:path';
import sharp from 'sharp';
import type { Pictor } from '../../src/cli/compose.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';
import { auditResponses, type ResponseAudit } from '../helpers/response-audit.ts';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/models');

/** A running server with the real ONNX engine on the fixture models, on a loopback port. */
export interface DialectServer {
  readonly pictor: Pictor;
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  readonly dataDir: string;
  /** The admin key the server was started with. */
  readonly adminKey: string;
  /** Creates an API key through the admin API; returns its secret. */
  createKey(fields?: Record<string, unknown>): Promise<string>;
  /** Absolute links are built from the configured public URL; point them at this server. */
  local(url: string): string;
  /** Every answer checked against its documented response schema (`response-audit.ts`). */
  readonly audit: ResponseAudit;
  /** Stops the server; throws if an answer did not match its documented response. */
  stop(): Promise<void>;
}

export async function startDialectServer(env: Record<string, string> = {}): Promise<DialectServer> {
  const adminKey = `sk_test_admin_${randomBytes(24).toString('hex')}`;
  const config = testConfig({
    PICTOR_AUTH__ENABLED: 'true',
    PICTOR_ADMIN_KEY: adminKey,
    PICTOR_WORKERS__ENGINE: 'onnx',
    PICTOR_WORKERS__INTRA_OP_THREADS: '1',
    PICTOR_MODELS__DEFAULT: 'sd15',
    PICTOR_MODELS__LIST: JSON.stringify([
      { name: 'sd15', path: path.join(fixtures, 'sd15') },
      { name: 'inpaint', path: path.join(fixtures, 'inpaint') },
    ]),
    ...env,
  });
  const pictor = await startPictor(config);
  const audit = auditResponses(pictor.app);
  const base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    pictor,
    base,
    dataDir: config.dataDir,
    adminKey,
    async createKey(fields = {}) {
      const res = await fetch(`${base}/v1/admin/keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({
          name: 'dialect test',
          credits: 100_000,
          rate_limit: 0,
          max_jobs: 0,
          scopes: ['generate'],
          ...fields,
        }),
      });
      if (res.status !== 201) throw new Error(`creating a key: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { key: string }).key;
    },
    local: (url) => {
      const u = new URL(url);
      return `${base}${u.pathname}${u.search}`;
    },
    audit,
    async stop() {
      await pictor.stop();
      if (audit.failures.length > 0)
        throw new Error(`answers unlike their documentation:\n${audit.failures.join('\n')}`);
    },
  };
}

/** A 64×64 PNG: left half one colour, right half another. */
export function halves(left: readonly number[], right: readonly number[]): Promise<Buffer> {
  const rgb = new Uint8Array(64 * 64 * 3);
  for (let p = 0; p < 64 * 64; p++) rgb.set(p % 64 < 32 ? left : right, p * 3);
  return sharp(rgb, { raw: { width: 64, height: 64, channels: 3 } })
    .png()
    .toBuffer();
}

/** Raw RGB pixels of an encoded image. */
export async function rgbOf(image: Buffer): Promise<Uint8Array> {
  return new Uint8Array(await sharp(image).removeAlpha().raw().toBuffer());
}

/** Largest channel difference between two RGB images over the columns `from`…`to` (64 wide). */
export function maxDifference(a: Uint8Array, b: Uint8Array, from = 0, to = 64): number {
  let max = 0;
  for (let p = 0; p < a.length / 3; p++) {
    const x = p % 64;
    if (x < from || x >= to) continue;
    for (let c = 0; c < 3; c++)
      max = Math.max(max, Math.abs((a[p * 3 + c] ?? 0) - (b[p * 3 + c] ?? 0)));
  }
  return max;
}
