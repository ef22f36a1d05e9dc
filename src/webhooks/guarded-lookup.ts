import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { isPrivateAddress } from './check-webhook-url.ts';

/** Resolves a host name to its addresses (`dns.lookup` by default; tests pass their own). */
export type ResolveHost = (host: string) => Promise<readonly { address: string; family: number }[]>;

export const systemResolve: ResolveHost = (host) => dnsLookup(host, { all: true });

/**
 * The connection's own lookup: the name is resolved once, every address checked, and the socket
 * connects to a checked address — so DNS that answers differently between a check and the
 * connection (rebinding) cannot reach a private address.
 */
export function guardedLookup(resolve: ResolveHost, allowPrivate: boolean): LookupFunction {
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
