import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { KEY_CACHE_MS } from '../../src/accounts/key-service.ts';
import { adminCli } from '../../src/cli/admin-cli.ts';
import { dialects } from '../helpers/databases.ts';
import {
  MAIN,
  ROOT,
  createPostgresDatabase,
  databaseEnv,
  newDataDir,
  spawnServer,
} from './helpers.ts';

const exec = promisify(execFile);
const EMPTY_CONFIG = path.join(ROOT, 'test/helpers/empty.yaml');

type Json = Record<string, unknown>;

for (const dialect of await dialects()) {
  describe(`pictor keys / backup on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('the CLI manages keys and backups on the database the server uses', async () => {
      const dataDir = newDataDir();
      const pgdb = dialect.name === 'postgres' ? await createPostgresDatabase() : undefined;
      const env = {
        PICTOR_CONFIG: EMPTY_CONFIG,
        PICTOR_DATA_DIR: dataDir,
        PICTOR_WORKERS__ENGINE: 'fake',
        ...databaseEnv(dialect.name, pgdb?.url),
      };
      // In-process runs of the same entry point as `pictor keys …`, with the output captured.
      const cli = async (
        ...argv: string[]
      ): Promise<{ code: number; out: string; err: string }> => {
        let out = '';
        let err = '';
        const code = await adminCli(argv, {
          out: (t) => (out += t),
          err: (t) => (err += t),
          env,
        });
        return { code, out, err };
      };
      const json = async (...argv: string[]): Promise<Json> => {
        const r = await cli(...argv, '--json');
        assert.equal(r.code, 0, r.err);
        return JSON.parse(r.out) as Json;
      };
      const server = await spawnServer(dataDir, databaseEnv(dialect.name, pgdb?.url));
      try {
        // As a real process: `node src/cli/main.ts keys create …` prints the key once.
        const { stdout } = await exec(
          process.execPath,
          [
            MAIN,
            'keys',
            'create',
            '--name',
            'ops',
            '--credits',
            '5',
            '--rate-limit',
            '100',
            '--admin',
            '--json',
          ],
          { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', ...env } },
        );
        const ops = JSON.parse(stdout) as Json;
        assert.match(String(ops['key']), /^sk_/);
        assert.deepEqual(ops['scopes'], ['generate', 'admin']);
        assert.equal(ops['credits'], 5);
        assert.equal(ops['rate_limit'], 100);

        const human = await cli(
          'keys',
          'create',
          '--name',
          'alice',
          '--credits',
          '2',
          '--max-jobs',
          '3',
        );
        assert.equal(human.code, 0, human.err);
        const secret = /\n\s+(sk_\S+)\n/.exec(human.out)?.[1];
        assert.ok(secret, human.out);
        assert.match(human.out, /shown once/);
        // The running server accepts a key the CLI just created.
        const bearer = { authorization: `Bearer ${secret}` };
        const gen = await fetch(`${server.base}/v1/generate`, {
          method: 'POST',
          headers: { ...bearer, 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: 'from the cli', steps: 1 }),
        });
        assert.equal(gen.status, 200);
        assert.equal(((await gen.json()) as Json)['credits_remaining'], 1);

        const list = await cli('keys', 'list');
        assert.match(list.out, /^ID\s+NAME\s+PREFIX\s+SCOPES\s+CREDITS/);
        assert.match(list.out, /alice/);
        assert.ok(!list.out.includes(secret));
        const listed = (await json('keys', 'list')).data as Json[];
        const alice = listed.find((k) => k['name'] === 'alice') as Json;
        const id = String(alice['id']);
        assert.equal(alice['credits'], 1);

        const added = await cli('keys', 'add-credits', id, '10', '--reason', 'invoice 42');
        assert.equal(added.code, 0, added.err);
        assert.match(added.out, /now has 11 credits/);
        const balance = (await (
          await fetch(`${server.base}/v1/account/balance`, { headers: bearer })
        ).json()) as Json;
        assert.equal(balance['credits'], 11, 'the server sees credits the CLI granted');
        assert.equal(
          (await json('keys', 'add-credits', id, '-4', '--reason', 'refund'))['credits'],
          7,
        );
        const negative = await cli('keys', 'add-credits', id, '-100', '--reason', 'x');
        assert.equal(negative.code, 1);
        assert.match(negative.err, /negative/);

        const shown = await cli('keys', 'show', id);
        assert.match(shown.out, /latest ledger entries/);
        assert.match(shown.out, /invoice 42/);
        const shownJson = await json('keys', 'show', id);
        assert.deepEqual(
          (shownJson['ledger'] as Json[]).map((e) => e['kind']),
          ['adjustment', 'grant', 'charge', 'grant'],
        );

        const updated = await json(
          'keys',
          'update',
          id,
          '--name',
          'alice2',
          '--rate-limit',
          '0',
          '--expires-at',
          '2099-12-31',
          '--priority',
          '1',
        );
        assert.deepEqual(
          [updated['name'], updated['rate_limit'], updated['expires_at'], updated['priority']],
          ['alice2', 0, '2099-12-31T00:00:00.000Z', 1],
        );
        const deleted = await cli('keys', 'delete', id);
        const deletedAt = Date.now();
        assert.match(deleted.out, /deactivated/);
        // Another process changed the key: the server sees it once its cached copy is stale.
        let status = 200;
        while (status === 200 && Date.now() - deletedAt < KEY_CACHE_MS + 1000) {
          status = (await fetch(`${server.base}/v1/account/balance`, { headers: bearer })).status;
          if (status === 200) await sleep(50);
        }
        assert.equal(status, 401);
        assert.ok(Date.now() - deletedAt <= KEY_CACHE_MS + 250, 'refused within the cache time');
        assert.equal((await cli('keys', 'show', 'key_nope')).code, 1);

        // Wrong command lines: exit 2 with the usage.
        for (const argv of [
          ['keys'],
          ['keys', 'frob'],
          ['keys', 'create'],
          ['keys', 'create', '--name', 'x', '--credits', 'lots'],
          ['keys', 'add-credits', id, '5'],
          ['keys', 'update', id],
          ['keys', 'list', '--bogus'],
          ['backup', 'restore'],
          ['backup', 'cleanup'],
        ]) {
          const r = await cli(...argv);
          assert.ok(r.code === 2 || r.code === 1, `${argv.join(' ')} → ${r.code}`);
          assert.ok(r.err.length > 0);
        }

        // Backups while the server runs.
        const made = await cli('backup', 'create');
        assert.equal(made.code, 0, made.err);
        const backups = (await json('backup', 'list')).data as Json[];
        assert.equal(backups.length, 1);
        const name = String(backups[0]?.['name']);
        assert.match((await cli('backup', 'list')).out, new RegExp(name.replaceAll('.', '\\.')));
        server.child.kill('SIGTERM');
        await server.exited;
        await cli('keys', 'create', '--name', 'after the backup');
        const restored = await json('backup', 'restore', name);
        assert.match(String((restored['saved'] as Json)['name']), /before-restore/);
        const names = ((await json('keys', 'list')).data as Json[]).map((k) => k['name']);
        assert.ok(!names.includes('after the backup'), 'the backup was restored');
        assert.ok(names.includes('alice2'));
        assert.deepEqual((await json('backup', 'cleanup', '--days', '30')).removed, []);
        const { stdout: cleaned } = await exec(
          process.execPath,
          [MAIN, 'backup', 'cleanup', '--days', '0', '--json'],
          { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', ...env } },
        );
        assert.equal((JSON.parse(cleaned) as { removed: string[] }).removed.length, 2);
      } finally {
        server.child.kill('SIGKILL');
        await server.exited;
        await pgdb?.drop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
