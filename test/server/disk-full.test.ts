import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDiskFull } from '../../src/errors/index.ts';

function errorWith(fields: Record<string, unknown>): Error {
  return Object.assign(new Error('x'), fields);
}

test('isDiskFull: ENOSPC and EDQUOT, SQLITE_FULL (extended codes too), PostgreSQL 53100', () => {
  assert.ok(isDiskFull(errorWith({ code: 'ENOSPC' })));
  assert.ok(isDiskFull(errorWith({ code: 'EDQUOT' })));
  assert.ok(isDiskFull(errorWith({ code: 'ERR_SQLITE_ERROR', errcode: 13 })));
  assert.ok(isDiskFull(errorWith({ code: 'ERR_SQLITE_ERROR', errcode: 13 | (1 << 8) })));
  assert.ok(isDiskFull(errorWith({ code: '53100' })));
});

test('isDiskFull: other failures are not a full disk', () => {
  assert.ok(!isDiskFull(errorWith({ code: 'EACCES' })));
  assert.ok(!isDiskFull(errorWith({ code: 'ERR_SQLITE_ERROR', errcode: 1 })));
  assert.ok(!isDiskFull(errorWith({ code: 'ERR_SQLITE_ERROR', errcode: 10 })));
  assert.ok(!isDiskFull(errorWith({ code: '57P01' })));
  assert.ok(!isDiskFull({ code: 'ENOSPC' }), 'not an Error');
  assert.ok(!isDiskFull(undefined));
});
