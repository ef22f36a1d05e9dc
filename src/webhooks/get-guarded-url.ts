import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { isPrivateAddress } from './check-webhook-url.ts';
import { guardedLookup, systemResolve, type ResolveHost } from './guarded-lookup.ts';

export interface GetGuardedUrlOptions {
  /** Bytes beyond this abort the download. */
  readonly maxBytes: number;
  /** The whole exchange, connection to last byte. */
  readonly timeoutMs: number;
  readonly allowPrivateAddresses: boolean;
  readonly resolve?: ResolveHost;
}

/** Why a URL could not be fetched, in words fit for the caller. */
export class GuardedFetchError extends Error {}

/**
 * GETs a URL a caller named (an image to work on) with the webhooks' SSRF guard: http(s) only,
 * connecting only to an address that was checked (unless private addresses are allowed), no
 * redirects, at most `maxBytes`, within `timeoutMs`. Rejects with a {@link GuardedFetchError}.
 */
export function getGuardedUrl(url: string, options: GetGuardedUrlOptions): Promise<Buffer> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new GuardedFetchError('not a URL'));
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:')
    return Promise.reject(new GuardedFetchError('only http and https URLs are fetched'));
  const host = target.hostname.replace(/^\[|\]$/g, '');
  if (!options.allowPrivateAddresses && isIP(host) !== 0 && isPrivateAddress(host))
    return Promise.reject(
      new GuardedFetchError(`${host} is a private, loopback or link-local address`),
    );
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const fail = (message: string): void => {
      request.destroy();
      reject(new GuardedFetchError(message));
    };
    const request = client.request(
      target,
      {
        method: 'GET',
        lookup: guardedLookup(options.resolve ?? systemResolve, options.allowPrivateAddresses),
        signal: AbortSignal.timeout(options.timeoutMs),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        if (status !== 200) {
          response.resume();
          fail(
            `the server answered ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}`,
          );
          return;
        }
        const declared = Number(response.headers['content-length']);
        if (Number.isFinite(declared) && declared > options.maxBytes) {
          fail(`larger than ${options.maxBytes} bytes`);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > options.maxBytes) fail(`larger than ${options.maxBytes} bytes`);
          else chunks.push(chunk);
        });
        response.on('end', () => resolve(Buffer.concat(chunks)));
        response.on('error', (error) => fail(error.message));
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        new GuardedFetchError(
          error.name === 'AbortError' || error.name === 'TimeoutError'
            ? `no answer within ${options.timeoutMs} ms`
            : error.message,
        ),
      ),
    );
    request.end();
  });
}
