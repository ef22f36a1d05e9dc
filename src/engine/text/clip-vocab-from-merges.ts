/**
 * CLIP's `vocab.json` as it follows from its `merges.txt` (what OpenAI's `SimpleTokenizer`
 * builds): the 256 byte symbols of GPT-2's byte-to-unicode table, the same with `</w>`, one
 * token per merge in merge order, then `<|startoftext|>` and `<|endoftext|>`.
 */
export function clipVocabFromMerges(merges: readonly string[]): Record<string, number> {
  const bytes = byteSymbols();
  const tokens = [
    ...bytes,
    ...bytes.map((symbol) => `${symbol}</w>`),
    ...merges.map((merge) => merge.replace(' ', '')),
    '<|startoftext|>',
    '<|endoftext|>',
  ];
  return Object.fromEntries(tokens.map((token, id) => [token, id]));
}

/** GPT-2's bytes_to_unicode, in its order: printable bytes as themselves, the rest from U+0100. */
function byteSymbols(): string[] {
  const printable = (from: string, to: string): number[] =>
    Array.from(
      { length: to.charCodeAt(0) - from.charCodeAt(0) + 1 },
      (_, i) => from.charCodeAt(0) + i,
    );
  const bytes = [...printable('!', '~'), ...printable('¡', '¬'), ...printable('®', 'ÿ')];
  const codes = [...bytes];
  let next = 0;
  for (let byte = 0; byte < 256; byte++) {
    if (bytes.includes(byte)) continue;
    bytes.push(byte);
    codes.push(256 + next++);
  }
  return codes.map((code) => String.fromCharCode(code));
}
