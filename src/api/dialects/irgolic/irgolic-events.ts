import type { Job } from '../../../jobs/job.ts';
import type { JobEvent } from '../../../jobs/job-event.ts';

/** irgolic's events (`event_type`), as `GET /task/{id}` answers and `/events` sends them. */
export type IrgolicEvent =
  | { readonly event_type: 'pending' | 'started'; readonly task_id: string }
  | { readonly event_type: 'aborted'; readonly task_id: string; readonly reason: string }
  | {
      readonly event_type: 'finished';
      readonly task_id: string;
      readonly result: { readonly blob_url: string; readonly parameters_used: object };
    };

/** Its reason for a task the user cancelled, as its clients compare it. */
export const CANCELLED_REASON = 'Task cancelled by user';

/** The finished event's result of a completed job. */
export type ResultOf = (job: Job) => { blob_url: string; parameters_used: object };

/** The event a job's state stands for: the last one it broadcast. */
export function lastEventOf(job: Job, resultOf: ResultOf): IrgolicEvent {
  const task_id = job.id;
  switch (job.status) {
    case 'queued':
      return { event_type: 'pending', task_id };
    case 'running':
      return { event_type: 'started', task_id };
    case 'completed':
      return { event_type: 'finished', task_id, result: resultOf(job) };
    case 'failed':
      return { event_type: 'aborted', task_id, reason: job.error?.message ?? 'the task failed' };
    case 'cancelled':
      return { event_type: 'aborted', task_id, reason: CANCELLED_REASON };
    case 'expired':
      return { event_type: 'aborted', task_id, reason: 'the task expired before it ran' };
  }
}

/**
 * The irgolic event a Pictor job event stands for: `pending` once queued (not again on a retry),
 * `started`, and a final one; `finished` needs the job (its parameters), so it is `'final'` here
 * and the caller reads the job. Progress has no irgolic event.
 */
export function eventOf(event: JobEvent): IrgolicEvent | 'final' | undefined {
  const task_id = event.jobId;
  switch (event.type) {
    case 'queued':
      return event.data.retry === true ? undefined : { event_type: 'pending', task_id };
    case 'started':
      return { event_type: 'started', task_id };
    case 'pulling': // still `pending` to irgolic's clients, which know no model downloads
    case 'progress':
      return undefined;
    case 'completed':
      return 'final';
    case 'failed':
      return { event_type: 'aborted', task_id, reason: event.data.error.message };
    case 'cancelled':
      return { event_type: 'aborted', task_id, reason: CANCELLED_REASON };
    case 'expired':
      return { event_type: 'aborted', task_id, reason: 'the task expired before it ran' };
  }
}
