import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CATALOG, problemType, type ErrorCode } from '../../src/errors/index.ts';

test('docs/errors.md documents exactly the catalog, with the same status and type', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d+) \| `([^`]+)` \| (.+) \|$/gm)];
  const documented = new Map(
    rows.map((r) => [r[1], { status: Number(r[2]), type: r[3], title: r[4] }]),
  );
  assert.deepEqual([...documented.keys()].sort(), Object.keys(ERROR_CATALOG).sort());
  for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
    assert.deepEqual(
      documented.get(code),
      { status: entry.status, type: problemType(code as ErrorCode), title: entry.title },
      code,
    );
  }
});
