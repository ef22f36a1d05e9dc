import type { ApiKey } from '../accounts/api-key.ts';
import { keyView, parseKeyFields, type KeyFieldsJson } from '../accounts/key-fields.ts';
import { ledgerEntryView } from '../accounts/key-service.ts';
import { ADMIN_KEY_NAME } from '../accounts/bootstrap-admin-key.ts';
import type { LedgerEntry } from '../accounts/credit-store.ts';
import { fields, table } from './cli-table.ts';
import { UsageError, openAccounts, parseCommand, type CliIo, type Options } from './cli-io.ts';

export const KEYS_USAGE = `usage: pictor keys <command> [--json] [--data-dir DIR | --config FILE]
  keys create --name NAME [--credits C] [--rate-limit R] [--max-jobs J] [--expires-at TIME|30d]
              [--priority P] [--scopes generate,admin] [--admin]     prints the key, once
  keys list [--limit N]
  keys show ID
  keys add-credits ID AMOUNT --reason TEXT                             negative AMOUNT removes
  keys update ID [--name N] [--rate-limit R] [--max-jobs J] [--expires-at TIME|never]
                 [--priority P] [--scopes S] [--active true|false]
  keys delete ID                                                       deactivates the key
  keys admin-reset           a lost admin key: deactivates the generated 'admin' key(s) and
                             prints a new one, once (run it on the server's data dir)`;

const FIELD_OPTIONS: Options = {
  name: { type: 'string' },
  credits: { type: 'string' },
  'rate-limit': { type: 'string' },
  'max-jobs': { type: 'string' },
  'expires-at': { type: 'string' },
  priority: { type: 'string' },
  scopes: { type: 'string' },
  admin: { type: 'boolean' },
  active: { type: 'string' },
};

/** `--rate-limit 5` → `{ rate_limit: '5' }`: the flags are the API's snake_case fields. */
function fieldsJson(values: Record<string, string | boolean | undefined>): KeyFieldsJson {
  const json: Record<string, unknown> = {};
  for (const name of Object.keys(FIELD_OPTIONS)) {
    const value = values[name];
    if (value !== undefined && name !== 'admin') json[name.replace('-', '_')] = value;
  }
  if (values['admin'] === true) json['scopes'] = ['generate', 'admin'];
  return json;
}

function keyRows(keys: readonly Record<string, unknown>[]): string {
  return table(keys, [
    ['ID', (k) => k['id']],
    ['NAME', (k) => k['name']],
    ['PREFIX', (k) => k['prefix']],
    ['SCOPES', (k) => k['scopes']],
    ['CREDITS', (k) => k['credits']],
    ['RATE/MIN', (k) => k['rate_limit'] || 'unlimited'],
    ['MAX JOBS', (k) => k['max_jobs'] || 'unlimited'],
    ['PRIORITY', (k) => k['priority']],
    ['EXPIRES', (k) => k['expires_at'] ?? 'never'],
    ['ACTIVE', (k) => (k['active'] ? 'yes' : 'no')],
  ]);
}

function keyDetails(key: ApiKey, ledger: readonly LedgerEntry[]): string {
  const v = keyView(key);
  const head = fields(Object.entries(v).map(([k, value]) => [k, value]));
  if (ledger.length === 0) return `${head}\n`;
  const entries = table(ledger, [
    ['WHEN', (e) => new Date(e.createdAt).toISOString()],
    ['KIND', (e) => e.kind],
    ['AMOUNT', (e) => e.amount],
    ['BALANCE', (e) => e.balanceAfter],
    ['JOB', (e) => e.jobId],
    ['REASON', (e) => e.reason],
  ]);
  return `${head}\n\nlatest ledger entries:\n${entries}\n`;
}

/** The ID argument of `keys <sub> ID [more]`; `more` further positionals are allowed. */
function idOf(positionals: readonly string[], more = 0): string {
  const id = positionals[1];
  if (id === undefined) throw new UsageError(`keys ${positionals[0] ?? ''}: ID is required`);
  if (positionals.length > 2 + more)
    throw new UsageError(`unexpected argument '${positionals.at(-1) ?? ''}'`);
  return id;
}

/** `pictor keys …` on the server's database. Returns the exit code. */
export async function keysCommand(argv: readonly string[], io: CliIo): Promise<number> {
  // A negative amount (`add-credits ID -5`) is a value, not an option.
  const args = argv.map((a) => (/^-\d+$/.test(a) ? `--amount=${a}` : a));
  const parsed = parseCommand(args, {
    ...FIELD_OPTIONS,
    reason: { type: 'string' },
    amount: { type: 'string' },
    limit: { type: 'string' },
  });
  const { values, positionals } = parsed;
  const sub = positionals[0];
  const json = values['json'] === true;
  const print = (data: unknown, human: string): void =>
    io.out(json ? `${JSON.stringify(data, null, 2)}\n` : human);
  if (
    !sub ||
    !['create', 'list', 'show', 'add-credits', 'update', 'delete', 'admin-reset'].includes(sub)
  )
    throw new UsageError(sub ? `unknown command 'keys ${sub}'` : 'a command is required');
  const { db, accounts } = await openAccounts(parsed, io);
  const keys = accounts.api.keys;
  try {
    switch (sub) {
      case 'create': {
        if (positionals.length > 1)
          throw new UsageError(`unexpected argument '${positionals[1] ?? ''}'`);
        const f = parseKeyFields(fieldsJson(values), 'create');
        const { key, secret } = await keys.create({ ...f, name: f.name ?? '' });
        print(
          { ...keyView(key), key: secret },
          `created ${key.id} '${key.name}' (${key.scopes.join(', ')}) with ${key.credits} credits\n` +
            `API key — shown once, store it now:\n\n  ${secret}\n\n`,
        );
        return 0;
      }
      case 'list': {
        const limit = values['limit'] === undefined ? 1000 : Number(values['limit']);
        if (!Number.isInteger(limit) || limit < 1)
          throw new UsageError('keys list: --limit must be a positive integer');
        const list = (await keys.list({ limit })).map(keyView);
        print({ data: list }, list.length === 0 ? 'no keys\n' : `${keyRows(list)}\n`);
        return 0;
      }
      case 'show': {
        const key = await keys.get(idOf(positionals));
        const ledger = await keys.ledger(key.id, 10);
        print({ ...keyView(key), ledger: ledger.map(ledgerEntryView) }, keyDetails(key, ledger));
        return 0;
      }
      case 'add-credits': {
        const id = idOf(positionals, values['amount'] === undefined ? 1 : 0);
        const amount = values['amount'] ?? positionals[2];
        if (typeof amount !== 'string' || !/^-?\d+$/.test(amount))
          throw new UsageError('keys add-credits ID AMOUNT: AMOUNT must be an integer');
        if (typeof values['reason'] !== 'string') throw new UsageError('--reason is required');
        const key = await keys.addCredits(id, Number(amount), values['reason']);
        print(keyView(key), `${key.id} '${key.name}' now has ${key.credits} credits\n`);
        return 0;
      }
      case 'update': {
        const patch = parseKeyFields(fieldsJson(values), 'update');
        if (Object.keys(patch).length === 0)
          throw new UsageError('keys update ID: nothing to change');
        const key = await keys.update(idOf(positionals), patch);
        print(keyView(key), `${keyRows([keyView(key)])}\n`);
        return 0;
      }
      case 'delete': {
        const key = await keys.deactivate(idOf(positionals));
        print(keyView(key), `deactivated ${key.id} '${key.name}'\n`);
        return 0;
      }
      case 'admin-reset': {
        const old = (await keys.list({ limit: 100_000 })).filter(
          (key) => key.active && key.name === ADMIN_KEY_NAME && key.scopes.includes('admin'),
        );
        for (const key of old) await keys.deactivate(key.id);
        const { key, secret } = await keys.create({
          name: ADMIN_KEY_NAME,
          scopes: ['generate', 'admin'],
          rateLimit: 0,
          maxJobs: 0,
        });
        print(
          { ...keyView(key), key: secret, deactivated: old.map((k) => k.id) },
          `${old.length === 0 ? '' : `deactivated ${old.map((k) => k.id).join(', ')}\n`}` +
            `new admin key ${key.id} — shown once, store it now:\n\n  ${secret}\n\n`,
        );
        return 0;
      }
    }
    return 2;
  } finally {
    await db.destroy();
  }
}
