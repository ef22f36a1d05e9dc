import { availableParallelism } from 'node:os';

/**
 * ONNX Runtime intra-op threads for each of this process's inference workers: the configured
 * `workers.intraOpThreads`, or with 0 the machine's cores divided among the process's workers
 * (at least one each). Left to itself the runtime gives every session a thread per core, so two
 * workers on two cores would run four busy threads and take turns on the cores instead of
 * sharing them out. Several `pictor worker` processes on one host each see only their own
 * devices: set `workers.intraOpThreads` to cores / processes there.
 */
export function intraOpThreadsPerWorker(
  configured: number,
  workers: number,
  cores: number = availableParallelism(),
): number {
  if (configured > 0) return configured;
  return Math.max(1, Math.floor(cores / Math.max(1, workers)));
}
