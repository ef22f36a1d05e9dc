import { loadConfig } from '../config/index.ts';
import { ProblemError } from '../errors/index.ts';
import type { LibraryModel } from '../library/library-model.ts';
import { ModelLibrary } from '../library/model-library.ts';
import { sidecarSettingsHelp } from '../library/sidecar-settings.ts';
import { formatBytes } from '../library/format-bytes.ts';
import { fields, table } from './cli-table.ts';
import { modelMemory } from './model-memory.ts';
import { UsageError, parseCommand, type CliIo } from './cli-io.ts';
import { showPullProgress } from './pull-progress.ts';
import { removeOnServer } from './remove-on-server.ts';
import { servedModelStates } from './served-model-states.ts';

export const MODELS_USAGE = `usage: pictor models <command> [--json] [--data-dir DIR | --config FILE]
  models pull REF [--name N] [--revision R]     REF: hf:org/repo[@rev][/subfolder], org/repo,
                                                civitai:MODEL[@VERSION], a civitai.com link,
                                                https://…/file.safetensors (with --name), a path
  models download <civitai-url|id> [--version V]   the same, Scratchy's spelling
  models download URL --name N
  models list [--key K]                         name, state on the running server, format, size,
                                                source (--key: an API key when the server wants one)
  models info NAME [--key K]                    the same, and where it is
  models set NAME key=value…                    a pulled model's settings (key= removes one):
${sidecarSettingsHelp().replace(/^/gm, '      ')}
  models rm NAME --yes [--key K]                removes the model and frees its disk (a running
                                                server does it, refusing while jobs use it)
  models scan                                   looks for models in models.dir again
Tokens: HF_TOKEN, CIVITAI_TOKEN (never printed). A running server picks changes up by itself.`;

const SUBCOMMANDS = ['pull', 'download', 'list', 'info', 'set', 'rm', 'scan'];

function modelJson(m: LibraryModel): Record<string, unknown> {
  return {
    name: m.name,
    format: m.format,
    family_hint: m.family ?? null,
    size_bytes: m.sizeBytes,
    cost: m.cost ?? null,
    keep_alive_seconds: m.keepAliveSeconds ?? null,
    quantization: m.quantization ?? 'none',
    tokenizers: m.tokenizers ?? null,
    overrides: m.overrides ?? null,
    source: m.source ?? null,
    path: m.path,
    configured: m.origin === 'config',
  };
}

/** Why each failed model failed, under the table. */
function failures(
  models: readonly LibraryModel[],
  served: ReadonlyMap<string, { readonly state: string; readonly error: string | null }>,
): string {
  return models
    .flatMap((m) => {
      const s = served.get(m.name);
      return s?.state === 'failed' ? [`${m.name}: ${s.error ?? 'failed'}\n`] : [];
    })
    .join('');
}

function argument(positionals: readonly string[], what: string): string {
  const value = positionals[1];
  if (value === undefined)
    throw new UsageError(`models ${positionals[0] ?? ''}: ${what} is required`);
  if (positionals.length > 2) throw new UsageError(`unexpected argument '${positionals[2] ?? ''}'`);
  return value;
}

/** `pictor models …`: the model library on this machine (no server needed). Returns the exit code. */
export async function modelsCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(argv, {
    name: { type: 'string' },
    revision: { type: 'string' },
    version: { type: 'string' },
    key: { type: 'string' },
    yes: { type: 'boolean', short: 'y' },
  });
  const { values, positionals } = parsed;
  const sub = positionals[0];
  if (!sub || !SUBCOMMANDS.includes(sub))
    throw new UsageError(sub ? `unknown command 'models ${sub}'` : 'a command is required');
  const json = values['json'] === true;
  const print = (data: unknown, human: string): void =>
    io.out(json ? `${JSON.stringify(data, null, 2)}\n` : human);
  const config = loadConfig({
    flags: parsed.configFlags,
    ...(io.env === undefined ? {} : { env: io.env }),
    ...(parsed.configFile === undefined ? {} : { file: parsed.configFile }),
  });
  const library = new ModelLibrary(config);
  const key = values['key'];
  const askServer = (): ReturnType<typeof servedModelStates> =>
    servedModelStates(config, typeof key === 'string' ? key : undefined);
  try {
    switch (sub) {
      case 'pull':
      case 'download': {
        const source = argument(positionals, 'REF');
        const revision = values['revision'] ?? values['version'];
        const pull = library.pull(source, {
          name: typeof values['name'] === 'string' ? values['name'] : undefined,
          revision: typeof revision === 'string' ? revision : undefined,
        });
        // Ctrl-C stops the pull; what was downloaded stays for the next one.
        const cancel = (): void => pull.controller.abort();
        process.once('SIGINT', cancel);
        try {
          await showPullProgress(pull, io.out, json ? 'json' : io.interactive ? 'tty' : 'lines');
        } finally {
          process.off('SIGINT', cancel);
        }
        return 0;
      }
      case 'list': {
        const models = await library.scan();
        const served = await askServer();
        const stateOf = (m: LibraryModel): string | null =>
          served.known ? (served.models.get(m.name)?.state ?? 'not served') : null;
        print(
          {
            data: models.map((m) => ({ ...modelJson(m), state: stateOf(m) })),
            server: served.known
              ? { url: served.url, reachable: true }
              : { url: served.url, reachable: false, reason: served.reason },
          },
          models.length === 0
            ? 'no models\n'
            : `${table(models, [
                ['NAME', (m) => m.name],
                ['STATE', (m) => stateOf(m) ?? '?'],
                ['FORMAT', (m) => m.format],
                ['FAMILY', (m) => m.family],
                ['SIZE', (m) => formatBytes(m.sizeBytes)],
                ['SOURCE', (m) => m.source ?? (m.origin === 'config' ? 'models.list' : 'local')],
              ])}\n` +
                (served.known
                  ? failures(models, served.models)
                  : `(state unknown: ${served.reason})\n`),
        );
        return 0;
      }
      case 'set': {
        const name = positionals[1];
        if (name === undefined) throw new UsageError('models set: NAME is required');
        const assignments = positionals.slice(2);
        if (assignments.length === 0)
          throw new UsageError(`models set ${name}: give one or more key=value settings`);
        const model = await library.configure(name, assignments);
        print(modelJson(model), `${fields(Object.entries(modelJson(model)))}\n`);
        return 0;
      }
      case 'info': {
        const name = argument(positionals, 'NAME');
        await library.scan();
        const model = library.get(name);
        if (!model) throw new ProblemError('MODEL_NOT_FOUND', `no model named '${name}'`);
        const served = await askServer();
        const state = served.known ? served.models.get(name) : undefined;
        const info = {
          ...modelJson(model),
          state: served.known ? (state?.state ?? 'not served') : null,
          ...(state?.error ? { error: state.error } : {}),
        };
        const shown = served.known ? info : { ...info, state: `unknown: ${served.reason}` };
        const memory = await modelMemory(
          model,
          config.workers.memoryBudgetGb,
          config.workers.cacheOptimizedModels,
        );
        print(
          { ...info, memory: memory.data },
          `${fields(Object.entries(shown))}\n${memory.human}`,
        );
        return 0;
      }
      case 'rm': {
        const name = argument(positionals, 'NAME');
        if (values['yes'] !== true)
          throw new UsageError(`models rm ${name}: deletes its files; add --yes to confirm`);
        // A running server removes it (it knows the jobs on it); with none, the files go here.
        // (A name this library does not know gets its own refusal, without asking the server.)
        const known = (await library.scan()).find((m) => m.name === name);
        const removedByServer =
          known !== undefined &&
          (await removeOnServer(config, name, typeof key === 'string' ? key : undefined));
        const model = removedByServer ? known : await library.remove(name);
        print(
          { deleted: modelJson(model) },
          `removed '${name}' (${formatBytes(model.sizeBytes)} freed)\n`,
        );
        return 0;
      }
      case 'scan': {
        const models = await library.scan();
        print(
          { data: models.map(modelJson) },
          `${models.length} model(s): ${models.map((m) => m.name).join(', ')}\n`,
        );
        return 0;
      }
    }
    return 2;
  } finally {
    await library.close();
  }
}
