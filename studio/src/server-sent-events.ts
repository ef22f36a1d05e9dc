/** One Server-Sent Event: its `id:`, `event:` and (joined) `data:` lines. */
export interface ServerSentEvent {
  readonly id: string | undefined;
  readonly type: string;
  readonly data: string;
}

function parseBlock(block: string): ServerSentEvent | undefined {
  let id: string | undefined;
  let type = '';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('id: ')) id = line.slice(4);
    else if (line.startsWith('event: ')) type = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  return data === '' ? undefined : { id, type, data }; // no data: a keep-alive comment
}

/**
 * Reads a `text/event-stream` response to its end, calling `receive` with each event. Streams are
 * read through `fetch` so the key travels in a header (an `EventSource` cannot send one).
 */
export async function readServerSentEvents(
  response: Response,
  receive: (event: ServerSentEvent) => void,
): Promise<void> {
  const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
  if (!reader) return;
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    let end = buffered.indexOf('\n\n');
    while (end >= 0) {
      const event = parseBlock(buffered.slice(0, end));
      if (event) receive(event);
      buffered = buffered.slice(end + 2);
      end = buffered.indexOf('\n\n');
    }
  }
}
