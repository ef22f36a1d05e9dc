import type { FastifyRequest } from 'fastify';
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

async function readMultipart(request: FastifyRequest): Promise<ImageForm> {
  const fields: Record<string, unknown> = {};
  const images: FormImage[] = [];
  let mask: FormImage | undefined;
  for await (const part of request.parts()) {
    // The SDKs send arrays as repeated `name[]` fields.
    const name = part.fieldname.replace(/\[\]$/, '');
    if (part.type === 'file') {
      const file = { data: await part.toBuffer(), filename: part.filename || undefined };
      if (name === 'image') images.push(file);
      else if (name === 'mask') mask = file;
      else throw paramError(name, `Unknown file parameter: '${name}'.`, 'unknown_parameter');
    } else if (name === 'image' || name === 'mask') {
      throw paramError(name, `'${name}' must be a file.`);
    } else {
      fields[name] = part.value;
    }
  }
  return { fields, images, mask };
}

/**
 * Reads a multipart form (what the SDKs send: `image` or `image[]`, `mask`, string fields) or a
 * JSON body (`images: [{ image_url }]`, `mask: { image_url }` with data URIs).
 */
export async function readImageForm(request: FastifyRequest): Promise<ImageForm> {
  if (request.isMultipart()) return readMultipart(request);
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
