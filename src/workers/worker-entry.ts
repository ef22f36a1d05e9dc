/**
 * The worker child process: loads the engine, then runs batches the parent sends over IPC and
 * reports progress and outcomes back. Started by `ChildProcessWorkers`; never imported.
 */
import type { InferenceEngine } from './inference-engine.ts';
import {
  HEARTBEAT_MS,
  type ChildMessage,
  type ParentMessage,
  type WorkerInit,
} from './worker-protocol.ts';

const init = JSON.parse(process.argv[2] ?? '{}') as WorkerInit;
const send = (message: ChildMessage): void => {
  // The parent may be gone (killed); 'disconnect' below ends this process, nothing to report.
  if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
};
// A send racing the parent's death fails with EPIPE; the worker must exit quietly, not crash loudly.
process.on('error', () => process.exit(0));

let ready = false;
/** Loads and unloads happen between and during batches: the parent hears each one. */
const modelsChanged = (): void => {
  if (ready) send({ type: 'models', models: engine.models() });
};

async function createEngine(): Promise<InferenceEngine> {
  if (init.engine === 'fake') {
    const { FakeEngine } = await import('./engines/fake-engine.ts');
    return new FakeEngine({
      stepMs: init.fakeStepMs,
      budgetBytes: init.memoryBudgetBytes,
      onChange: modelsChanged,
    });
  }
  const { OnnxEngine } = await import('./engines/onnx-engine.ts');
  return new OnnxEngine({
    provider: init.executionProvider,
    threads: init.intraOpThreads,
    cacheDir: init.cacheDir,
    cacheOptimizedModels: init.cacheOptimizedModels,
    budgetBytes: init.memoryBudgetBytes,
    onChange: modelsChanged,
  });
}

const engine = await createEngine();
// Model set changes are applied one at a time, in order.
let modelUpdates = Promise.resolve();
const running = new Map<string, AbortController>();

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'run': {
      const controller = new AbortController();
      running.set(message.batchId, controller);
      void engine
        .run(
          message.model,
          message.jobs,
          (p) => send({ type: 'progress', batchId: message.batchId, ...p }),
          controller.signal,
        )
        .then((outcome) => {
          running.delete(message.batchId);
          send({ type: 'done', batchId: message.batchId, outcome });
        });
      break;
    }
    case 'models':
      modelUpdates = modelUpdates.then(async () => {
        send({ type: 'models', models: await engine.setModels(message.models) });
      });
      break;
    case 'load':
    case 'unload': {
      const { requestId, model } = message;
      const change = message.type === 'load' ? engine.preload(model) : engine.unload(model);
      void change.then(() => send({ type: 'changed', requestId, models: engine.models() }));
      break;
    }
    case 'cancel':
      running.get(message.batchId)?.abort();
      break;
    case 'shutdown':
      void engine.dispose().finally(() => process.exit(0));
      break;
  }
});
process.on('disconnect', () => process.exit(0));

await engine.setModels(init.models);
for (const name of init.preload) await engine.preload(name);
ready = true;
send({ type: 'ready', models: engine.models() });
// The parent's watchdog kills a worker it stops hearing from (stopped, or stuck in native code).
setInterval(() => send({ type: 'heartbeat' }), HEARTBEAT_MS).unref();
