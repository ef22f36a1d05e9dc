import type { Job } from '../../src/jobs/job.ts';

/** A queued job with every field set, for repository tests; `overrides` win. */
export function makeJob(overrides: Partial<Job> = {}): Job {
  return {
    id: `job-${Math.random().toString(36).slice(2)}`,
    owner: 'local',
    status: 'queued',
    priority: 0,
    model: 'tiny',
    params: {
      prompt: 'a red fox',
      negativePrompt: '',
      width: 64,
      height: 64,
      steps: 2,
      guidanceScale: 7.5,
      scheduler: 'euler',
      seed: 42,
      n: 1,
      outputFormat: 'png',
      quality: 90,
      initImage: null,
      mask: null,
      strength: null,
      safetyFilter: false,
      preview: false,
      warnings: [],
    },
    batchKey: 'tiny|64|64|2|euler|7.5|txt2img',
    createdAt: Date.now() + Math.random(),
    startedAt: null,
    finishedAt: null,
    attempts: 0,
    error: null,
    result: null,
    webhookUrl: null,
    creditsUsed: null,
    resultExpiresAt: null,
    resultDeleted: false,
    ...overrides,
  };
}
