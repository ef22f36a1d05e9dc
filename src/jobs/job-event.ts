export type JobEventType =
  'queued' | 'started' | 'progress' | 'completed' | 'failed' | 'cancelled' | 'expired';

/**
 * One event of one job. `seq` increases by one per event of the job and is the SSE event id; a
 * job's log started again (restart, prune) continues above its earlier ids (see `EventHub`).
 */
export interface JobEvent {
  readonly seq: number;
  readonly jobId: string;
  readonly owner: string;
  readonly type: JobEventType;
  readonly data: Readonly<Record<string, unknown>>;
}

export const FINAL_EVENTS: readonly JobEventType[] = [
  'completed',
  'failed',
  'cancelled',
  'expired',
];
