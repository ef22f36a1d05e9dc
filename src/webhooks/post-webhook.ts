import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isPrivateAddress } from './check-webhook-url.ts';

/** Resolves a host name to its addresses (`dns.lookup` by default; tests pass their own). */
export type ResolveHost = (host: string) => Promise<readonly { address: string; family: number }[]>;

const systemResolve: ResolveHost = (host) => dnsLookup(host, { all: true });

export interface PostWebhookOptions {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly timeoutMs: number;
  readonly allowPrivateAddresses: boolean;
  readonly resolve?: ResolveHost;
}

/**
 * The connection's own lookup: the name is resolved once, every address checked, and the socket
 * connects to a checked address — so DNS that answers differently between a check and the
 * connection (rebinding) cannot reach a private address.
 */
function guardedLookup(resolve: ResolveHost, allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (addresses) => {
        const refused = !allowPrivate && addresses.some((a) => isPrivateAddress(a.address));
        const first = addresses[0];
        if (refused || first === undefined) {
          const reason = refused
            ? 'is a private, loopback or link-local address'
            : 'does not resolve';
          callback(Object.assign(new Error(`${hostname} ${reason}`), { code: 'EREFUSED' }), '', 0);
        } else if (options.all === true) {
          (callback as unknown as (e: null, all: typeof addresses) => void)(null, addresses);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
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
