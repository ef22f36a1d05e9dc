import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { startAuthServer, type AuthServer } from '../accounts/helpers.ts';

// Issue 16 items 10 and 17: malformed multipart forms on the OpenAI edit routes answered 500,
// and /v1/images/edits buffered up to 17 × 25 MB parts before refusing extra images.

const BOUNDARY = 'pictorBoundary';
let s: AuthServer;
let key: string;
let png: Buffer;

before(async () => {
  s = await startAuthServer('sqlite', { PICTOR_SERVER__BODY_LIMIT_MB: '2' });
  ({ key } = await s.createKey({ name: 'forms', credits: 100 }));
  png = await sharp({ create: { width: 64, height: 64, channels: 4, background: '#336699' } })
    .png()
    .toBuffer();
});
after(() => s.stop());

function part(name: string, content: Buffer | string, filename?: string): Buffer {
  const file = filename === undefined ? '' : `; filename="${filename}"`;
  const type = filename === undefined ? '' : 'Content-Type: image/png\r\n';
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"${file}\r\n${type}\r\n`,
    ),
    Buffer.from(content),
    Buffer.from('\r\n'),
  ]);
}
const CLOSE = Buffer.from(`--${BOUNDARY}--\r\n`);
const form = (...parts: Buffer[]) => Buffer.concat([...parts, CLOSE]);

interface Answer {
  readonly status: number;
  readonly body: { error?: { message: string; type: string; param: string | null } };
}

async function post(
  body: Buffer,
  contentType: string,
  route = '/v1/images/edits',
): Promise<Answer> {
  const res = await fetch(`${s.base}${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': contentType },
    body,
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}
const multipart = `multipart/form-data; boundary=${BOUNDARY}`;

const CASES: readonly [string, () => Buffer, string?, number?][] = [
  ['two images', () => form(part('image', png, 'a.png'), part('image', png, 'b.png'))],
  [
    'twenty image[] files',
    () => form(...Array.from({ length: 20 }, () => part('image[]', png, 'a.png'))),
  ],
  [
    'two masks and an image',
    () => form(part('image', png, 'a.png'), part('mask', png, 'm.png'), part('mask', png, 'n.png')),
    undefined,
    413,
  ],
  [
    '100 fields',
    () =>
      form(
        part('image', png, 'a.png'),
        ...Array.from({ length: 100 }, (_, i) => part(`f${i}`, 'x')),
      ),
    undefined,
    413,
  ],
  [
    'a file over the body limit',
    () => form(part('image', Buffer.alloc(3 * 1024 * 1024, 7), 'a.png')),
    undefined,
    413,
  ],
  [
    'a field over the field size',
    () => form(part('image', png, 'a.png'), part('prompt', 'x'.repeat(1024 * 1024 + 1))),
    undefined,
    413,
  ],
  ['no boundary', () => form(part('image', png, 'a.png')), 'multipart/form-data'],
  [
    'another boundary',
    () => form(part('image', png, 'a.png')),
    'multipart/form-data; boundary=other',
  ],
  [
    'an unterminated body',
    () => Buffer.concat([part('image', png, 'a.png'), part('prompt', 'a cat')]),
  ],
  [
    'a part without a name',
    () =>
      Buffer.concat([
        Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nxx\r\n`),
        CLOSE,
      ]),
  ],
  [
    'a part without Content-Disposition',
    () =>
      Buffer.concat([
        Buffer.from(`--${BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nxx\r\n`),
        CLOSE,
      ]),
  ],
  ['an empty body', () => Buffer.alloc(0)],
  ['only the closing delimiter', () => CLOSE],
  ['garbage', () => Buffer.from('garbage, not a form')],
  ['image as a text field', () => form(part('image', 'not a file'), part('prompt', 'a cat'))],
  ['an unknown file', () => form(part('image', png, 'a.png'), part('thumbnail', png, 't.png'))],
  [
    'a 100 KB part header',
    () =>
      Buffer.concat([Buffer.from(`--${BOUNDARY}\r\n${'X'.repeat(100_000)}\r\n\r\nxx\r\n`), CLOSE]),
  ],
];

for (const route of ['/v1/images/edits', '/v1/images/variations']) {
  for (const [name, body, contentType, status] of CASES) {
    test(`${route}: ${name} is a ${status ?? 400} in OpenAI's shape`, async () => {
      const answer = await post(body(), contentType ?? multipart, route);
      assert.equal(answer.status, status ?? 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error?.type, 'invalid_request_error');
      assert.equal(typeof answer.body.error?.message, 'string');
    });
  }
}

test(
  'a second image is refused before the rest of the form is sent',
  { timeout: 10_000 },
  async () => {
    const url = new URL(s.base);
    const head = Buffer.concat([
      part('image', png, 'a.png'),
      Buffer.from(
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="b.png"\r\n\r\n`,
      ),
      Buffer.alloc(64 * 1024, 1),
    ]);
    // Declares 20 MB, sends a little over one image: the answer comes without the rest.
    const status = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      let answer = '';
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString();
        if (answer.includes('\r\n\r\n')) {
          resolve(answer.split('\r\n')[0] ?? '');
          socket.destroy();
        }
      });
      socket.on('error', reject);
      socket.write(
        `POST /v1/images/edits HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n` +
          `Content-Type: ${multipart}\r\nContent-Length: ${20 * 1024 * 1024}\r\n\r\n`,
      );
      socket.write(head);
    });
    assert.equal(status, 'HTTP/1.1 400 Bad Request');
  },
);
