import { ConfigError } from '../config/index.ts';
import { ProblemError } from '../errors/index.ts';
import { BACKUP_USAGE, backupCommand } from './backup-command.ts';
import { UsageError, type CliIo } from './cli-io.ts';
import { KEYS_USAGE, keysCommand } from './keys-command.ts';
import { MODELS_USAGE, modelsCommand } from './models-command.ts';

/** The admin commands next to `serve`. */
export const ADMIN_COMMANDS = ['keys', 'backup', 'models'] as const;

const COMMANDS = {
  keys: { usage: KEYS_USAGE, run: keysCommand },
  backup: { usage: BACKUP_USAGE, run: backupCommand },
  models: { usage: MODELS_USAGE, run: modelsCommand },
} as const;

/**
 * Runs `pictor keys …`, `pictor backup …` or `pictor models …` (argv starts with the command). Returns the exit
 * code: 0, 1 for a refused operation (the problem's detail on stderr), 2 for a wrong command line,
 * 78 for a bad configuration.
 */
export async function adminCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  const { usage, run } = COMMANDS[command as keyof typeof COMMANDS] ?? COMMANDS.keys;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`${usage}\n`);
    return 0;
  }
  try {
    return await run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n${usage}\n`);
      return 2;
    }
    if (error instanceof ProblemError) {
      io.err(`error: ${error.message} (${error.code})\n`);
      return 1;
    }
    if (error instanceof ConfigError) {
      io.err(`${error.message}\n`);
      return 78;
    }
    throw error;
  }
}
