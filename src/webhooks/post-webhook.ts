import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { isPrivateAddress } from './check-webhook-url.ts';
import { guardedLookup, systemResolve, type ResolveHost } from './guarded-lookup.ts';

export type { ResolveHost } from './guarded-lookup.ts';

export interface PostWebhookOptions {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly timeoutMs: number;
  readonly allowPrivateAddresses: boolean;
  readonly resolve?: ResolveHost;
}

/**
 * POSTs one webhook and resolves with the response status. Redirects are not followed (a 3xx is
 * the answer, and a failed delivery), and the connection goes only to an address that passed the
 * SSRF guard unless private addresses are allowed.
 */
export function postWebhook(url: string, options: PostWebhookOptions): Promise<number> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  if (!options.allowPrivateAddresses && isIP(host) !== 0 && isPrivateAddress(host)) {
    return Promise.reject(new Error(`${host} is a private, loopback or link-local address`));
  }
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(
      target,
      {
        method: 'POST',
        headers: { ...options.headers, 'content-length': Buffer.byteLength(options.body) },
        lookup: guardedLookup(options.resolve ?? systemResolve, options.allowPrivateAddresses),
        signal: AbortSignal.timeout(options.timeoutMs),
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}
