import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { checkWebhookUrl, isPrivateAddress } from '../../src/webhooks/check-webhook-url.ts';
import { postWebhook, type ResolveHost } from '../../src/webhooks/post-webhook.ts';

test('public IPv4 and IPv6 addresses pass the SSRF guard', async () => {
  for (const address of ['8.8.8.8', '93.184.216.34', '1.1.1.1', '2606:4700:4700::1111']) {
    assert.equal(isPrivateAddress(address), false, address);
  }
  await checkWebhookUrl('https://8.8.8.8/hook', false);
  await checkWebhookUrl('http://[2606:4700:4700::1111]/hook', false);
});

test('private, loopback, link-local, CGNAT, multicast and reserved ranges are refused, mapped or not', async () => {
  for (const address of [
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '100.64.0.1',
    '169.254.169.254',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '::ffff:10.0.0.1',
    '64:ff9b::7f00:1',
    'not an address',
  ]) {
    assert.equal(isPrivateAddress(address), true, address);
  }
  assert.equal(isPrivateAddress('::ffff:8.8.8.8'), false, 'a mapped public address is public');
  for (const url of ['http://127.0.0.1/', 'http://[::ffff:7f00:1]/', 'http://[::1]:8080/']) {
    await assert.rejects(checkWebhookUrl(url, false), /private, loopback/, url);
  }
});

let hits = 0;
let target: Server;
let targetPort = 0;
let redirector: Server;
let redirectorPort = 0;
before(async () => {
  target = createServer((_req, res) => {
    hits++;
    res.end('ok');
  });
  redirector = createServer((_req, res) => {
    res.writeHead(302, { location: `http://127.0.0.1:${targetPort}/stolen` }).end();
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
  targetPort = (target.address() as AddressInfo).port;
  redirectorPort = (redirector.address() as AddressInfo).port;
});
after(() => {
  target.close();
  redirector.close();
});

const post = (url: string, allowPrivateAddresses: boolean, resolve?: ResolveHost) =>
  postWebhook(url, {
    headers: { 'content-type': 'application/json' },
    body: '{}',
    timeoutMs: 2000,
    allowPrivateAddresses,
    ...(resolve ? { resolve } : {}),
  });

test('a webhook answered with a redirect is not followed: the 302 is the answer', async () => {
  hits = 0;
  assert.equal(await post(`http://127.0.0.1:${redirectorPort}/hook`, true), 302);
  assert.equal(hits, 0, 'the redirect target was never requested');
});

test('delivery connects only to an address it checked: a name rebinding to loopback is refused', async () => {
  hits = 0;
  // A name that looks public to a first resolution and then answers loopback (DNS rebinding):
  // delivery resolves once, for the connection itself, and refuses what it gets.
  let calls = 0;
  const rebinding: ResolveHost = () =>
    Promise.resolve([{ address: calls++ === 0 ? '93.184.216.34' : '127.0.0.1', family: 4 }]);
  await rebinding('warm-up'); // the check an attacker passed earlier
  await assert.rejects(
    post(`http://rebind.example:${targetPort}/hook`, false, rebinding),
    /private/,
  );
  const loopback: ResolveHost = () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
  await assert.rejects(post(`http://evil.example:${targetPort}/`, false, loopback), /private/);
  await assert.rejects(post(`http://[::ffff:7f00:1]:${targetPort}/`, false), /private/);
  assert.equal(hits, 0, 'nothing reached the loopback server');
  // With private addresses allowed (tests, intranets) the same name is delivered.
  assert.equal(await post(`http://evil.example:${targetPort}/`, true, loopback), 200);
  assert.equal(hits, 1);
});
