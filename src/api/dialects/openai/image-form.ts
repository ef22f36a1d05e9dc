import type { MultipartFile } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { ProblemError } from '../../../errors/index.ts';
import { paramError } from './openai-errors.ts';

/** An image sent with an edit or variation request. */
export interface FormImage {
  readonly data: Buffer;
  readonly filename: string | undefined;
}

/** The fields and images of an edit or variation request, however it was encoded. */
export interface ImageForm {
  readonly fields: Record<string, unknown>;
  readonly images: readonly FormImage[];
  readonly mask: FormImage | undefined;
}

function dataUri(value: unknown, param: string): FormImage {
  const url =
    typeof value === 'object' && value !== null
      ? (value as { image_url?: unknown }).image_url
      : value;
  if (typeof url !== 'string' || !/^data:[^,]*;base64,/.test(url)) {
    throw paramError(
      param,
      `'${param}' must be sent as a file (multipart) or as { "image_url": "data:image/…;base64,…" }; remote URLs and file ids are not supported.`,
    );
  }
  return { data: Buffer.from(url.slice(url.indexOf(',') + 1), 'base64'), filename: undefined };
}

/** Form fields one request may carry (OpenAI's parameters, with room to spare). */
export const MAX_FORM_FIELDS = 64;
/** Files one request may carry: the image and a mask. */
const MAX_FORM_FILES = 2;

/** A limit of the multipart parser was passed: a 413 saying which. */
const LIMIT_MESSAGES: Readonly<Record<string, string>> = {
  FST_PARTS_LIMIT: `more than ${MAX_FORM_FIELDS + MAX_FORM_FILES} parts`,
  FST_FILES_LIMIT: `more than ${MAX_FORM_FILES} files (an 'image' and a 'mask')`,
  FST_FIELDS_LIMIT: `more than ${MAX_FORM_FIELDS} fields`,
  FST_REQ_FILE_TOO_LARGE: 'a file larger than the body limit',
};

/**
 * What a broken form (no boundary, an unterminated body, a part without a name, a limit passed)
 * is to the client: a 400, or a 413 for a limit, never a 500.
 */
function formError(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  const code = (error as { code?: unknown }).code;
  const limit = typeof code === 'string' ? LIMIT_MESSAGES[code] : undefined;
  if (limit !== undefined)
    return new ProblemError('PAYLOAD_TOO_LARGE', `The form has ${limit}.`, { cause: error });
  return new ProblemError(
    'BAD_REQUEST',
    `The multipart form could not be read: ${(error as Error).message}.`,
    { cause: error },
  );
}

function tooLarge(maxBytes: number): ProblemError {
  return new ProblemError(
    'PAYLOAD_TOO_LARGE',
    `The form's files are larger than ${maxBytes} bytes together.`,
  );
}

/** A file part's bytes, refused as soon as the form's files pass `budget` bytes together. */
async function readFile(part: MultipartFile, budget: number, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of part.file as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > budget) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  if (part.file.truncated) throw tooLarge(maxBytes);
  return Buffer.concat(chunks);
}

async function readMultipart(request: FastifyRequest, maxBytes: number): Promise<ImageForm> {
  const fields: Record<string, unknown> = {};
  let image: FormImage | undefined;
  let mask: FormImage | undefined;
  let budget = maxBytes;
  try {
    const parts = request.parts({
      limits: {
        fileSize: maxBytes,
        files: MAX_FORM_FILES,
        fields: MAX_FORM_FIELDS,
        parts: MAX_FORM_FIELDS + MAX_FORM_FILES,
      },
    });
    for await (const part of parts) {
      if (typeof part.fieldname !== 'string' || part.fieldname === '')
        throw new ProblemError('BAD_REQUEST', 'A form part has no name (Content-Disposition).');
      // The SDKs send arrays as repeated `name[]` fields.
      const name = part.fieldname.replace(/\[\]$/, '');
      if (part.type === 'file') {
        // Refused before its bytes are read: one image and one mask at most.
        if (name === 'image' && image)
          throw paramError('image', 'Pictor edits one image at a time; send one image file.');
        if (name === 'mask' && mask) throw paramError('mask', 'Send one mask file.');
        if (name !== 'image' && name !== 'mask')
          throw paramError(name, `Unknown file parameter: '${name}'.`, 'unknown_parameter');
        const data = await readFile(part, budget, maxBytes);
        budget -= data.length;
        const file = { data, filename: part.filename || undefined };
        if (name === 'image') image = file;
        else mask = file;
      } else if (name === 'image' || name === 'mask') {
        throw paramError(name, `'${name}' must be a file.`);
      } else if (part.valueTruncated) {
        throw new ProblemError('PAYLOAD_TOO_LARGE', `The form field '${name}' is too long.`, {
          field: name,
        });
      } else {
        fields[name] = part.value;
      }
    }
  } catch (error) {
    throw formError(error);
  }
  return { fields, images: image ? [image] : [], mask };
}

/**
 * Reads a multipart form (what the SDKs send: `image` or `image[]`, `mask`, string fields) or a
 * JSON body (`images: [{ image_url }]`, `mask: { image_url }` with data URIs). A form's files
 * may hold `maxBytes` together; a form is refused the moment it passes a limit, before the rest
 * of it is buffered.
 */
export async function readImageForm(request: FastifyRequest, maxBytes: number): Promise<ImageForm> {
  if (request.isMultipart()) return readMultipart(request, maxBytes);
  const body = request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw paramError(
      'image',
      "Send multipart/form-data with an 'image' file (or JSON with 'images').",
      'missing_required_parameter',
    );
  }
  const { images, image, mask, ...fields } = body as Record<string, unknown>;
  const list = images ?? image;
  const all = list === undefined || list === null ? [] : Array.isArray(list) ? list : [list];
  return {
    fields,
    images: all.map((item) => dataUri(item, 'images')),
    mask: mask === undefined || mask === null ? undefined : dataUri(mask, 'mask'),
  };
}
