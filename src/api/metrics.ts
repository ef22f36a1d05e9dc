import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobEventBus } from '../jobs/job-event-bus.ts';
import type { JobService } from '../jobs/job-service.ts';

/**
 * Prometheus metrics: queue depth, job and step durations, batch sizes, failures. Fed by job
 * events.
 */
export function createMetrics(events: JobEventBus, service: JobService): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'pictor_queue_depth',
    help: 'Jobs waiting in the queue',
    registers: [registry],
    collect() {
      this.set(service.queueStats().depth);
    },
  });
  new Gauge({
    name: 'pictor_jobs_running',
    help: 'Jobs running on workers',
    registers: [registry],
    collect() {
      this.set(service.queueStats().running);
    },
  });
  const finished = new Counter({
    name: 'pictor_jobs_total',
    help: 'Jobs finished, by status',
    labelNames: ['status'],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'pictor_job_failures_total',
    help: 'Failed jobs, by error code',
    labelNames: ['code'],
    registers: [registry],
  });
  const jobSeconds = new Histogram({
    name: 'pictor_job_duration_seconds',
    help: 'From start to completion',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const stepSeconds = new Histogram({
    name: 'pictor_step_duration_seconds',
    help: 'Time between progress events of a job',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'pictor_job_batch_size',
    help: 'Jobs in the engine batch each job ran in (1: it ran alone)',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [registry],
  });
  const started = new Map<string, number>();
  const lastStep = new Map<string, number>();
  void events.onAll((event) => {
    const now = performance.now();
    switch (event.type) {
      case 'started':
        batchSize.observe(event.data.batch_size);
        started.set(event.jobId, now);
        lastStep.set(event.jobId, now);
        break;
      case 'progress': {
        const last = lastStep.get(event.jobId);
        if (last !== undefined) stepSeconds.observe((now - last) / 1000);
        lastStep.set(event.jobId, now);
        break;
      }
      case 'queued':
      case 'pulling':
        break;
      case 'completed':
      case 'failed':
      case 'cancelled':
      case 'expired': {
        finished.inc({ status: event.type });
        const start = started.get(event.jobId);
        if (event.type === 'completed' && start !== undefined)
          jobSeconds.observe((now - start) / 1000);
        if (event.type === 'failed') failures.inc({ code: event.data.error.code });
        started.delete(event.jobId);
        lastStep.delete(event.jobId);
        break;
      }
    }
  });
  return registry;
}
