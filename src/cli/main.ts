#!/usr/bin/env node
/** `pictor serve` — loads the config, starts the workers and the HTTP API, stops gracefully. */
import { createServer } from 'node:net';
import { ConfigError, loadConfig } from '../config/index.ts';
import { listenProblem } from './listen-problem.ts';
import { unavailableModelHint } from './model-hint.ts';
import { createPictor } from './compose.ts';
import { createWorkerNode } from './compose-worker.ts';
import { createApiNode } from './compose-api.ts';
import { parseArgs } from './parse-flags.ts';
import { ADMIN_COMMANDS, adminCli } from './admin-cli.ts';
import { findModel } from '../jobs/find-model.ts';

const USAGE = `usage: pictor serve [--config pictor.yaml] [--port 8080] [--host 127.0.0.1] [--data-dir ./pictor-data]
                    [--model NAME] [--section.key=value …]
       pictor api [--config pictor.yaml] [--port 8080] [--section.key=value …]      (a cluster's API node)
       pictor worker [--config pictor.yaml] [--section.key=value …]   (a cluster's worker node)
       pictor keys create|list|show|add-credits|update|delete …   (pictor keys --help)
       pictor backup create|list|restore|cleanup …                (pictor backup --help)
       pictor models pull|download|list|info|rm|scan …            (pictor models --help)`;

/** Why `host:port` cannot be listened on (see {@link listenProblem}), or undefined. */
function listenCheck(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error) => resolve(listenProblem(error, host, port)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

function exitWith(problem: string): never {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}

async function serve(flags: Record<string, string>, configFile: string | undefined): Promise<void> {
  const config = loadConfig({ flags, ...(configFile === undefined ? {} : { file: configFile }) });
  const { host, port } = config.server;
  // Checked before anything starts: a first start that cannot listen creates no admin key,
  // so the next start creates (and prints) it.
  const busy = await listenCheck(host, port);
  if (busy !== undefined) exitWith(busy);
  const pictor = await createPictor(config);
  const recovered = await pictor.start();
  let address: string;
  try {
    address = await pictor.app.listen({ host, port });
  } catch (error) {
    const problem = listenProblem(error, host, port);
    if (problem === undefined) throw error;
    await pictor.stop();
    // Taken between the check and now: the key exists and works at the next start.
    if (recovered.adminKey !== undefined)
      process.stderr.write(
        `admin API key created (shown once; store it now): ${recovered.adminKey}\n`,
      );
    exitWith(problem);
  }
  const base = config.server.publicUrl || address;
  const missing = config.models.list.find((m) => m.name === config.models.default);
  process.stdout.write(
    `Pictor listening on ${base}  (data in ${config.dataDir})\n` +
      `  studio: ${base}/\n` +
      `  try it in a browser: ${base}/v1/txt2img?prompt=${encodeURIComponent('a red circle on a blue background')}` +
      `${config.auth.enabled && !config.auth.keylessLink ? '&token=<your key>' : ''}\n` +
      `  API docs: ${base}/docs\n` +
      (recovered.requeued + recovered.retried > 0
        ? `  resumed ${recovered.requeued} queued job(s), ${recovered.retried} retried\n`
        : '') +
      (recovered.refunded > 0
        ? `  refunded ${recovered.refunded} job(s) charged before a crash\n`
        : '') +
      (recovered.adminKey === undefined
        ? ''
        : `\n  admin API key (shown once; store it now):\n\n    ${recovered.adminKey}\n\n` +
          `  use it as Authorization: Bearer <key>; create keys with POST /v1/admin/keys or pictor keys create\n`),
  );
  if (!config.auth.enabled) {
    process.stderr.write(
      'warning: auth.enabled is false: no API keys, credits or rate limits; anyone who can reach this address can generate\n',
    );
  }
  void pictor.workers.ready().then(() => {
    const model = findModel(pictor.service.models(), config.models.default);
    if (!model?.available) {
      process.stderr.write(
        `warning: the default model '${config.models.default}' is not available: ${model?.error ?? 'unknown'}\n` +
          `${unavailableModelHint(model?.error ?? '', missing?.path ?? '?')}\n`,
      );
    }
  });
  stopOnSignals(
    `finishing the running job (up to ${config.server.shutdownTimeoutSeconds} s); queued jobs stay for the next start`,
    () => pictor.stop(),
  );
}

/** Stops `stopNode` on SIGTERM or SIGINT (a second signal exits at once). */
function stopOnSignals(message: string, stopNode: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stdout.write(`${signal}: ${message}\n`);
    stopNode().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** `pictor api`: serves the HTTP API of a cluster (jobs run on its worker nodes), until SIGTERM. */
async function api(flags: Record<string, string>, configFile: string | undefined): Promise<void> {
  const config = loadConfig({
    flags,
    role: 'api',
    ...(configFile === undefined ? {} : { file: configFile }),
  });
  const { host, port } = config.server;
  const busy = await listenCheck(host, port);
  if (busy !== undefined) exitWith(busy);
  const node = await createApiNode(config);
  const { adminKey } = await node.start();
  let address: string;
  try {
    address = await node.app.listen({ host, port });
  } catch (error) {
    const problem = listenProblem(error, host, port);
    if (problem === undefined) throw error;
    await node.stop();
    exitWith(problem);
  }
  process.stdout.write(
    `Pictor API node listening on ${config.server.publicUrl || address}, ` +
      `queueing to ${new URL(config.redis.url).host} (prefix ${config.redis.prefix})\n` +
      (adminKey === undefined
        ? ''
        : `\n  admin API key (shown once; store it now):\n\n    ${adminKey}\n\n`),
  );
  stopOnSignals('finishing open requests; queued and running jobs stay with the cluster', () =>
    node.stop(),
  );
}

/** `pictor worker`: runs this machine's inference workers for a cluster, until SIGTERM. */
async function worker(
  flags: Record<string, string>,
  configFile: string | undefined,
): Promise<void> {
  const config = loadConfig({
    flags,
    role: 'worker',
    ...(configFile === undefined ? {} : { file: configFile }),
  });
  const node = await createWorkerNode(config);
  await node.start();
  const devices = config.workers.devices.join(', ');
  process.stdout.write(
    `Pictor worker node: ${node.workers.count} inference worker(s) on ${devices}, ` +
      `taking jobs from ${new URL(config.redis.url).host} (prefix ${config.redis.prefix})\n`,
  );
  stopOnSignals(
    `finishing the running job (up to ${config.server.shutdownTimeoutSeconds} s); others go back to the queue`,
    () => node.stop(),
  );
}

if ((ADMIN_COMMANDS as readonly string[]).includes(process.argv[2] ?? '')) {
  const io = {
    out: (text: string) => process.stdout.write(text),
    err: (text: string) => process.stderr.write(text),
    interactive: process.stdout.isTTY,
  };
  process.exit(await adminCli(process.argv.slice(2), io));
}
if (['--help', '-h', 'help'].includes(process.argv[2] ?? '')) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const args = parseArgs(process.argv.slice(2));
const commands: Record<string, typeof serve> = { serve, api, worker };
const command = commands[args.command ?? ''];
if (args.problems.length > 0 || command === undefined) {
  process.stderr.write(`${args.problems.join('\n')}${args.problems.length ? '\n' : ''}${USAGE}\n`);
  process.exit(2);
}
try {
  await command(args.flags, args.configFile);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
  throw error;
}
