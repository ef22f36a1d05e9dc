import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PictorConfig } from '../../config/index.ts';

/** What a valid link grants: one image of one job, read as its owner. */
export interface LinkTarget {
  readonly owner: string;
  readonly jobId: string;
  readonly index: number;
}

export type LinkCheck =
  | { readonly ok: true; readonly target: LinkTarget; readonly expiresAt: number }
  | { readonly ok: false; readonly reason: 'expired' | 'invalid' };

/** Query parameters of a signed link, as received. */
export interface LinkQuery {
  readonly owner?: string | undefined;
  readonly expires?: string | undefined;
  readonly signature?: string | undefined;
}

/**
 * Signs image links so they can be fetched without an API key until they expire: the path names
 * the job and image, the query the owner and expiry, and an HMAC-SHA256 over all four proves the
 * server issued them. Changing any part, or waiting past the expiry, invalidates the link.
 */
export class LinkSigner {
  readonly #secret: Buffer;
  readonly #ttlMs: number;
  readonly #baseUrl: string;

  constructor(secret: Buffer, ttlMs: number, baseUrl: string) {
    this.#secret = secret;
    this.#ttlMs = ttlMs;
    this.#baseUrl = baseUrl;
  }

  #mac(target: LinkTarget, expires: number): Buffer {
    return createHmac('sha256', this.#secret)
      .update(`${target.jobId}\n${target.index}\n${target.owner}\n${expires}`)
      .digest();
  }

  /** An absolute URL for the image, valid for the configured time from `now`. */
  url(target: LinkTarget, now = Date.now()): string {
    const expires = Math.floor((now + this.#ttlMs) / 1000);
    const query = new URLSearchParams({
      owner: target.owner,
      expires: String(expires),
      signature: this.#mac(target, expires).toString('base64url'),
    });
    return `${this.#baseUrl}/images/${encodeURIComponent(target.jobId)}/${target.index}?${query.toString()}`;
  }

  check(jobId: string, index: string, query: LinkQuery, now = Date.now()): LinkCheck {
    const { owner, expires, signature } = query;
    if (!/^\d+$/.test(index) || !owner || !expires || !/^\d+$/.test(expires) || !signature) {
      return { ok: false, reason: 'invalid' };
    }
    const target = { owner, jobId, index: Number(index) };
    const expected = this.#mac(target, Number(expires));
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, reason: 'invalid' };
    }
    const expiresAt = Number(expires) * 1000;
    if (expiresAt <= now) return { ok: false, reason: 'expired' };
    return { ok: true, target, expiresAt };
  }
}

/** The link secret: `links.secret`, else `link-secret` under the data dir (created once). */
export function loadLinkSecret(config: PictorConfig): Buffer {
  if (config.links.secret !== '') return Buffer.from(config.links.secret, 'utf8');
  const file = path.join(config.dataDir, 'link-secret');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
  mkdirSync(config.dataDir, { recursive: true });
  const secret = randomBytes(32);
  writeFileSync(file, `${secret.toString('hex')}\n`, { mode: 0o600 });
  return secret;
}
