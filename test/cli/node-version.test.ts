// `pictor` (and `npm start`, which runs it) on a Node.js too old to strip types says which
// version is needed and how to get it, instead of failing on the first `.ts` import.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const OLD_NODE = '/usr/bin/node'; // Debian's Node.js 20 on the test machines
const bin = path.resolve(import.meta.dirname, '../../bin/pictor.js');

const version = existsSync(OLD_NODE)
  ? spawnSync(OLD_NODE, ['--version'], { encoding: 'utf8' }).stdout.trim()
  : '';

test(
  'on Node.js 20 `pictor serve` names the Node.js it needs and how to get it',
  { skip: /^v(1\d|20|21)\./.test(version) ? false : `no Node.js < 22 at ${OLD_NODE}` },
  () => {
    const run = spawnSync(OLD_NODE, [bin, 'serve'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /needs Node\.js 22\.18 or newer/);
    assert.match(
      run.stderr,
      new RegExp(`this is Node\\.js ${version.slice(1).replaceAll('.', '\\.')}`),
    );
    assert.match(run.stderr, /nodejs\.org|nvm install/);
    assert.doesNotMatch(run.stderr, /ERR_UNKNOWN_FILE_EXTENSION/);
    // `npm start` runs the same check as its `prestart`, before building the studio with .ts.
    const prestart = spawnSync(OLD_NODE, [path.join(path.dirname(bin), 'check-node.js')], {
      encoding: 'utf8',
    });
    assert.equal(prestart.status, 1);
    assert.match(prestart.stderr, /needs Node\.js 22\.18 or newer/);
  },
);

test('on this Node.js the same entry runs the CLI', () => {
  const run = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', timeout: 30_000 });
  assert.match(run.stdout + run.stderr, /usage: pictor serve/);
});
