import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { ProblemError } from '../errors/index.ts';

const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  PRIVATE.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['::ffff:0:0', 96],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv6');
}

/** True for loopback, private, link-local, CGNAT, multicast and reserved addresses. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Refuses webhook URLs that are not http(s) or that resolve to a private address (SSRF guard),
 * unless `allowPrivate`. Checked at acceptance and again before each delivery.
 */
export async function checkWebhookUrl(url: string, allowPrivate: boolean): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ProblemError('WEBHOOK_URL_REFUSED', 'webhook_url: not a URL', {
      field: 'webhook_url',
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ProblemError('WEBHOOK_URL_REFUSED', 'webhook_url: only http and https', {
      field: 'webhook_url',
    });
  }
  if (allowPrivate) return;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host)
    ? [{ address: host }]
    : await lookup(host, { all: true }).catch(() => []);
  if (addresses.length === 0) {
    throw new ProblemError('WEBHOOK_URL_REFUSED', `webhook_url: ${host} does not resolve`, {
      field: 'webhook_url',
    });
  }
  if (addresses.some((a) => isPrivateAddress(a.address))) {
    throw new ProblemError(
      'WEBHOOK_URL_REFUSED',
      `webhook_url: ${host} is a private, loopback or link-local address`,
      { field: 'webhook_url' },
    );
  }
}
