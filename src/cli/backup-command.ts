import { fields, table } from './cli-table.ts';
import { UsageError, openAccounts, parseCommand, type CliIo } from './cli-io.ts';
import type { BackupInfo } from '../store/database-backups.ts';

export const BACKUP_USAGE = `usage: pictor backup <command> [--json] [--data-dir DIR | --config FILE]
  backup create               a consistent copy, safe while the server runs
  backup list
  backup restore FILE         stop the server first; the current data is saved as a backup
  backup cleanup --days D     deletes backups older than D days`;

const view = (b: BackupInfo): Record<string, unknown> => ({
  name: b.name,
  size: b.size,
  created_at: new Date(b.createdAt).toISOString(),
});

/** `pictor backup …` on the server's database. Returns the exit code. */
export async function backupCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(argv, { days: { type: 'string' } });
  const { values, positionals } = parsed;
  const sub = positionals[0];
  const json = values['json'] === true;
  const print = (data: unknown, human: string): void =>
    io.out(json ? `${JSON.stringify(data, null, 2)}\n` : human);
  if (!sub || !['create', 'list', 'restore', 'cleanup'].includes(sub))
    throw new UsageError(sub ? `unknown command 'backup ${sub}'` : 'a command is required');
  const expected = sub === 'restore' ? 2 : 1;
  if (positionals.length !== expected)
    throw new UsageError(
      positionals.length < expected
        ? 'backup restore FILE: FILE is required'
        : `unexpected argument '${positionals.at(-1) ?? ''}'`,
    );
  let days = 0;
  if (sub === 'cleanup') {
    days = Number(values['days']);
    if (typeof values['days'] !== 'string' || !Number.isInteger(days) || days < 0)
      throw new UsageError('backup cleanup: --days D (an integer ≥ 0) is required');
  }
  const { db, accounts } = await openAccounts(parsed, io);
  const backups = accounts.api.backups;
  try {
    switch (sub) {
      case 'create': {
        const b = await backups.create();
        print(
          { ...view(b), dir: backups.dir },
          `${fields([
            ['backup', b.name],
            ['size', b.size],
            ['dir', backups.dir],
          ])}\n`,
        );
        return 0;
      }
      case 'list': {
        const list = (await backups.list()).map(view);
        print(
          { dir: backups.dir, data: list },
          list.length === 0
            ? `no backups in ${backups.dir}\n`
            : `${table(list, [
                ['NAME', (b) => b['name']],
                ['SIZE', (b) => b['size']],
                ['CREATED', (b) => b['created_at']],
              ])}\n`,
        );
        return 0;
      }
      case 'restore': {
        const { restored, saved } = await backups.restore(positionals[1] ?? '');
        print(
          { restored, saved: view(saved) },
          `restored ${restored}\nthe data it replaced is saved as ${saved.name}\nrestart the server to use it\n`,
        );
        return 0;
      }
      case 'cleanup': {
        const removed = await backups.cleanup(days);
        print(
          { removed },
          removed.length === 0
            ? `no backups older than ${days} days\n`
            : `removed ${removed.length}:\n${removed.map((n) => `  ${n}`).join('\n')}\n`,
        );
        return 0;
      }
    }
    return 2;
  } finally {
    await db.destroy();
  }
}
