import extractChunks from 'png-chunks-extract';
import encodeChunks from 'png-chunks-encode';

// tEXt must be Latin-1; anything else goes in an uncompressed iTXt chunk as UTF-8 (PNG 1.2 §4.2.3).
// eslint-disable-next-line no-control-regex -- NUL is a valid Latin-1 code point here.
const LATIN1 = /^[\u0000-\u00ff]*$/;

/** Inserts text chunks (keyword → text) before the image data of a PNG. */
export function addPngText(png: Uint8Array, entries: Readonly<Record<string, string>>): Buffer {
  const chunks = extractChunks(png);
  const textChunks = Object.entries(entries).map(([keyword, text]) => textChunk(keyword, text));
  const firstData = chunks.findIndex((chunk) => chunk.name === 'IDAT');
  chunks.splice(firstData, 0, ...textChunks);
  return Buffer.from(encodeChunks(chunks));
}

/** Reads every tEXt and iTXt chunk of a PNG (compressed zTXt/iTXt are skipped). */
export function readPngText(png: Uint8Array): Record<string, string> {
  const texts: Record<string, string> = {};
  for (const chunk of extractChunks(png)) {
    if (chunk.name === 'tEXt') {
      const separator = chunk.data.indexOf(0);
      const keyword = Buffer.from(chunk.data.subarray(0, separator)).toString('latin1');
      texts[keyword] = Buffer.from(chunk.data.subarray(separator + 1)).toString('latin1');
    } else if (chunk.name === 'iTXt') {
      const parsed = parseInternationalText(chunk.data);
      if (parsed) texts[parsed.keyword] = parsed.text;
    }
  }
  return texts;
}

function textChunk(keyword: string, text: string): { name: string; data: Uint8Array } {
  if (LATIN1.test(text)) {
    return {
      name: 'tEXt',
      data: Buffer.concat([Buffer.from(`${keyword}\0`, 'latin1'), Buffer.from(text, 'latin1')]),
    };
  }
  // keyword, NUL, compression flag 0, method 0, empty language tag, NUL, empty translation, NUL.
  const header = Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 0, 0, 0, 0])]);
  return { name: 'iTXt', data: Buffer.concat([header, Buffer.from(text, 'utf8')]) };
}

function parseInternationalText(data: Uint8Array): { keyword: string; text: string } | undefined {
  const bytes = Buffer.from(data);
  const keywordEnd = bytes.indexOf(0);
  if (keywordEnd < 0 || bytes[keywordEnd + 1] !== 0) return undefined;
  const languageEnd = bytes.indexOf(0, keywordEnd + 3);
  const translatedEnd = bytes.indexOf(0, languageEnd + 1);
  if (languageEnd < 0 || translatedEnd < 0) return undefined;
  return {
    keyword: bytes.subarray(0, keywordEnd).toString('latin1'),
    text: bytes.subarray(translatedEnd + 1).toString('utf8'),
  };
}
