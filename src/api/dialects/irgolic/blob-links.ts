import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a blob URL names: an uploaded image, or one result image of a job read as its owner. */
export type BlobTarget =
  | { readonly kind: 'upload'; readonly uploadId: string }
  | {
      readonly kind: 'result';
      readonly owner: string;
      readonly jobId: string;
      readonly index: number;
    };

const encode = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');
const decode = (text: string): string => Buffer.from(text, 'base64url').toString('utf8');

/**
 * irgolic's blob URLs (`BASE_URL/blob/{token}`): fetched without a key, as its clients do, so the
 * token is the credential — an HMAC (the link secret) over what it names. The same token always
 * names the same blob, so a URL echoed in `parameters_used` is the one the client sent.
 */
export class BlobLinks {
  readonly #secret: Buffer;
  readonly #baseUrl: string;

  constructor(secret: Buffer, baseUrl: string) {
    this.#secret = secret;
    this.#baseUrl = baseUrl;
  }

  #mac(payload: string): string {
    return createHmac('sha256', this.#secret)
      .update(`irgolic-blob\n${payload}`)
      .digest()
      .subarray(0, 16)
      .toString('base64url');
  }

  token(target: BlobTarget): string {
    const payload =
      target.kind === 'upload'
        ? `u.${target.uploadId}`
        : `r.${target.jobId}.${target.index}.${encode(target.owner)}`;
    return `${payload}.${this.#mac(payload)}`;
  }

  url(target: BlobTarget): string {
    return `${this.#baseUrl}/blob/${this.token(target)}`;
  }

  /** What a token names, or undefined when this server did not issue it. */
  check(token: string): BlobTarget | undefined {
    const dot = token.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const payload = token.slice(0, dot);
    const expected = Buffer.from(this.#mac(payload));
    const given = Buffer.from(token.slice(dot + 1));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const [kind, a = '', b = '', c = ''] = payload.split('.');
    if (kind === 'u') return { kind: 'upload', uploadId: a };
    if (kind === 'r' && /^\d+$/.test(b))
      return { kind: 'result', jobId: a, index: Number(b), owner: decode(c) };
    return undefined;
  }

  /** The token of a URL whose path is `/blob/{token}` on any host (links name this server). */
  tokenOf(url: string): string | undefined {
    try {
      const match = /^\/blob\/([^/]+)$/.exec(new URL(url).pathname);
      return match?.[1];
    } catch {
      return undefined;
    }
  }
}
