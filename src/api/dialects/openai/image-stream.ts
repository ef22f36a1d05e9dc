import type { FastifyReply, FastifyRequest } from 'fastify';
import sharp from 'sharp';
import type { JobEventBus } from '../../../jobs/job-event-bus.ts';
import { followJob } from '../../../jobs/follow-job-events.ts';
import type { Job } from '../../../jobs/job.ts';
import type { JobEvent } from '../../../jobs/job-event.ts';
import type { Caller, JobService } from '../../../jobs/job-service.ts';
import { readResults, waitAll } from '../dialect-jobs.ts';
import { jobFailure } from '../../job-outcome.ts';
import { imageMeta, ZERO_USAGE } from './images-response.ts';
import type { OpenAIImageOptions } from './openai-params.ts';
import { toOpenAIError } from './openai-errors.ts';

export interface ImageStreamOptions {
  /** `image_generation` or `image_edit`: the events' type prefix. */
  readonly prefix: 'image_generation' | 'image_edit';
  readonly options: OpenAIImageOptions;
  readonly size: { width: number; height: number };
}

/** Step after which partial image `k` of `count` is sent: evenly spread over the run. */
function partialStep(k: number, count: number, totalSteps: number): number {
  return Math.ceil(((k + 1) * totalSteps) / (count + 1));
}

/** A step preview (a small data URI) at the output's size and format. */
async function partialImage(
  preview: string,
  size: { width: number; height: number },
  options: OpenAIImageOptions,
): Promise<string> {
  const bytes = Buffer.from(preview.slice(preview.indexOf(',') + 1), 'base64');
  const quality = options.compression === undefined ? 90 : Math.max(1, options.compression);
  const image = sharp(bytes).resize(size.width, size.height, { fit: 'fill' });
  const encoded =
    options.outputFormat === 'png'
      ? image.png()
      : options.outputFormat === 'jpeg'
        ? image.jpeg({ quality })
        : image.webp({ quality });
  return (await encoded.toBuffer()).toString('base64');
}

/**
 * Streams OpenAI image events as Server-Sent Events: up to `partial_images` previews of the
 * first job taken from its step previews (`<prefix>.partial_image`), then one
 * `<prefix>.completed` per image, or an `error` event if a job fails. A client that disconnects
 * cancels the jobs.
 */
export async function streamImages(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: { readonly service: JobService; readonly events: JobEventBus },
  caller: Caller,
  jobs: readonly Job[],
  stream: ImageStreamOptions,
): Promise<void> {
  const { prefix, options, size } = stream;
  const meta = imageMeta(options, size);
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': request.id,
  });
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  });
  // Writes are chained so partials (encoded asynchronously) keep their order.
  let writing = Promise.resolve();
  const send = (event: string, data: () => Promise<Record<string, unknown>>): void => {
    writing = writing.then(async () => {
      try {
        const payload = await data();
        if (!controller.signal.aborted)
          res.write(`event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`);
      } catch (error) {
        // A preview that cannot be encoded is skipped; the final images still follow.
        request.log.warn({ err: error }, 'image stream event dropped');
      }
    });
  };
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15000);
  let unsubscribe = (): void => undefined;
  try {
    const first = jobs[0];
    if (first && options.partialImages > 0) {
      let sent = 0;
      let lastSeq = 0;
      const onEvent = (event: JobEvent): void => {
        // History is replayed after subscribing: an event may arrive both ways.
        if (event.seq <= lastSeq) return;
        lastSeq = event.seq;
        if (event.type !== 'progress' || event.data.preview === undefined) return;
        const { preview, step, total_steps: total } = event.data;
        if (sent >= options.partialImages || step < partialStep(sent, options.partialImages, total))
          return;
        const index = sent++;
        send(`${prefix}.partial_image`, async () => ({
          type: `${prefix}.partial_image`,
          b64_json: await partialImage(preview, size, options),
          created_at: Math.floor(Date.now() / 1000),
          partial_image_index: index,
          ...meta,
        }));
      };
      unsubscribe = await followJob(deps.events, first.id, 0, onEvent);
    }
    const done = await waitAll(deps.service, caller, jobs, controller.signal);
    unsubscribe();
    const failed = done.find((job) => job.status !== 'completed');
    if (failed) throw jobFailure(failed);
    for (const result of await readResults(deps.service, done)) {
      send(`${prefix}.completed`, () =>
        Promise.resolve({
          type: `${prefix}.completed`,
          b64_json: result.data.toString('base64'),
          created_at: Math.floor(Date.now() / 1000),
          ...meta,
          usage: ZERO_USAGE,
        }),
      );
    }
  } catch (error) {
    if (!controller.signal.aborted) {
      const mapped = toOpenAIError(error);
      if (mapped.status >= 500) request.log.error({ err: error }, 'image stream failed');
      send('error', () => Promise.resolve({ ...mapped.body }));
    }
  } finally {
    unsubscribe();
    clearInterval(heartbeat);
    await writing.catch(() => undefined);
    res.end();
  }
}
