import type { FastifyInstance, FastifyRequest } from 'fastify';
import { imagesResponse } from './openai-schemas.ts';
import type { Caller } from '../../../jobs/job-service.ts';
import { embeddedPrompt, inspectImage, openAIMaskToPictor, type ImageInfo } from './edit-images.ts';
import { FieldReader } from './field-reader.ts';
import { readImageForm, type ImageForm } from './image-form.ts';
import { paramError } from './openai-errors.ts';
import { COMMON_PARAMS, fitSize, readOptions, type OpenAIImageOptions } from './openai-params.ts';
import { runImages, type OpenAIContext } from './run-images.ts';

/** Denoising strength when none is given: edits without a mask, and variations. */
export const EDIT_STRENGTH = 0.75;
export const MASKED_EDIT_STRENGTH = 1;
export const VARIATION_STRENGTH = 0.6;
/** Prompt of a variation whose image carries none (variations send no prompt). */
export const VARIATION_PROMPT = 'a high quality, detailed image';

interface Source {
  readonly form: ImageForm;
  readonly fields: FieldReader;
  readonly options: OpenAIImageOptions;
  readonly image: { readonly data: Buffer; readonly info: ImageInfo };
  readonly size: { width: number; height: number };
}

async function readSource(
  request: FastifyRequest,
  ctx: OpenAIContext,
  known: readonly string[],
): Promise<Source> {
  const form = await readImageForm(request, ctx.config.server.bodyLimitMb * 1024 * 1024);
  const fields = new FieldReader(form.fields);
  fields.onlyKnown(known);
  const first = form.images[0];
  if (!first)
    throw paramError('image', "Missing required parameter: 'image'.", 'missing_required_parameter');
  if (form.images.length > 1) {
    throw paramError('image', `Pictor edits one image at a time; ${form.images.length} were sent.`);
  }
  // Measured from the headers before sharp decodes anything (a decompression bomb stops here).
  ctx.service.checkInputImage(first.data, 'image');
  if (form.mask) ctx.service.checkInputImage(form.mask.data, 'mask');
  const options = readOptions(fields, ctx.service, ctx.config);
  if (!options.model.supportsImg2Img) {
    throw paramError('model', `Model '${options.model.name}' cannot edit images (no VAE encoder).`);
  }
  const info = await inspectImage(first.data, 'image');
  const size = options.size === 'auto' ? fitSize(info, options.model) : options.size;
  return { form, fields, options, image: { data: first.data, info }, size };
}

async function upload(ctx: OpenAIContext, caller: Caller, data: Buffer, mimeType: string) {
  return (await ctx.service.upload(caller, data, mimeType)).id;
}

/**
 * `POST /v1/images/edits` (inpainting with a mask, img2img without) and
 * `POST /v1/images/variations` (img2img from the image alone).
 */
export function editsRoutes(app: FastifyInstance, ctx: OpenAIContext): void {
  app.post(
    '/edits',
    {
      schema: {
        tags: ['openai'],
        summary: 'OpenAI Images: edit an image (multipart image + optional mask)',
        response: { 200: imagesResponse },
      },
    },
    async (request, reply) => {
      const source = await readSource(request, ctx, ['prompt', 'strength', ...COMMON_PARAMS]);
      const { fields, options, image, size, form } = source;
      const prompt = fields.string('prompt', true) ?? '';
      if (prompt.trim() === '') throw paramError('prompt', "'prompt' must not be empty.");
      let mask: string | undefined;
      if (form.mask) {
        if (!options.model.supportsInpainting) {
          throw paramError('mask', `Model '${options.model.name}' cannot inpaint.`);
        }
        const converted = await openAIMaskToPictor(form.mask.data, image.info);
        mask = await upload(ctx, request.caller, converted, 'image/png');
      }
      const strength =
        fields.number('strength', 0.01, 1, false) ?? (mask ? MASKED_EDIT_STRENGTH : EDIT_STRENGTH);
      const initImage = await upload(ctx, request.caller, image.data, image.info.mimeType);
      return runImages(request, reply, ctx, {
        prompt,
        options,
        size,
        initImage,
        mask,
        strength,
        prefix: 'image_edit',
      });
    },
  );

  app.post(
    '/variations',
    {
      schema: {
        tags: ['openai'],
        summary: 'OpenAI Images: variations of an image (multipart image)',
        response: { 200: imagesResponse },
      },
    },
    async (request, reply) => {
      const source = await readSource(request, ctx, ['prompt', 'strength', ...COMMON_PARAMS]);
      const { fields, options, image, size, form } = source;
      if (form.mask) throw paramError('mask', 'Variations take no mask; use /v1/images/edits.');
      if (options.stream) throw paramError('stream', 'Variations do not stream.');
      const prompt = fields.string('prompt') ?? embeddedPrompt(image.data) ?? VARIATION_PROMPT;
      const strength = fields.number('strength', 0.01, 1, false) ?? VARIATION_STRENGTH;
      const initImage = await upload(ctx, request.caller, image.data, image.info.mimeType);
      return runImages(request, reply, ctx, {
        prompt,
        options,
        size,
        initImage,
        strength,
        prefix: 'image_edit',
      });
    },
  );
}
