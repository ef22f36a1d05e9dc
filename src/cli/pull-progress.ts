import type { Pull } from '../library/model-pulls.ts';
import { formatBytes } from '../library/format-bytes.ts';
import type { PullEvent } from '../library/pull-event.ts';

const BAR_WIDTH = 20;

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
}

/** `45% ▕█████████           ▏ 2.8 MB/6.1 MB`, or the bytes alone when the size is unknown. */
function bar(completed: number, total: number | undefined): string {
  if (!total) return formatBytes(completed);
  const share = Math.min(1, completed / total);
  const filled = Math.floor(share * BAR_WIDTH);
  return (
    `${String(Math.floor(share * 100)).padStart(3)}% ▕${'█'.repeat(filled)}${' '.repeat(BAR_WIDTH - filled)}▏ ` +
    `${formatBytes(completed)}/${formatBytes(total)}`
  );
}

/** Speed and time left from the bytes that arrived since `since` (resumed bytes do not count). */
function rate(arrived: number, left: number | undefined, since: number, now: number): string {
  const seconds = (now - since) / 1000;
  const speed = seconds > 0 ? arrived / seconds : 0;
  const eta = left === undefined ? '' : `  ETA ${duration(speed > 0 ? left / speed : Infinity)}`;
  return `${formatBytes(speed)}/s${eta}`;
}

interface FileProgress {
  total: number | undefined;
  completed: number;
  /** Bytes present when this run first reported the file (a resumed `.partial`). */
  readonly startedWith: number;
  readonly startedAt: number;
  verifying: boolean;
}

/**
 * A terminal view of a pull, redrawn in place as events arrive: a line per file (bar, bytes,
 * speed, ETA; `verifying` once it is all there) and a total line with the same over all files.
 */
class ProgressBoard {
  readonly #files = new Map<string, FileProgress>();
  readonly #started = Date.now();
  #drawn = 0;

  update(event: PullEvent): void {
    if (event.status === 'downloading') {
      const file = this.#files.get(event.file);
      if (file) {
        file.completed = event.completed;
        file.total = event.total;
      } else {
        this.#files.set(event.file, {
          total: event.total,
          completed: event.completed,
          startedWith: event.completed,
          startedAt: Date.now(),
          verifying: false,
        });
      }
    } else if (event.status === 'verifying') {
      const file = this.#files.get(event.file);
      if (file) file.verifying = true;
    }
  }

  render(view: { total: number; completed: number }): string {
    const now = Date.now();
    const width = Math.max(0, ...[...this.#files.keys()].map((f) => f.length));
    const lines = [...this.#files].map(([name, f]) => {
      const progress = bar(f.completed, f.total);
      if (f.verifying) return `${name.padEnd(width)}  ${progress}  verifying`;
      const left = f.total === undefined ? undefined : f.total - f.completed;
      return `${name.padEnd(width)}  ${progress}  ${rate(f.completed - f.startedWith, left, f.startedAt, now)}`;
    });
    const arrived = [...this.#files.values()].reduce(
      (sum, f) => sum + f.completed - f.startedWith,
      0,
    );
    lines.push(
      `${'total'.padEnd(width)}  ${bar(view.completed, view.total)}  ${rate(arrived, view.total - view.completed, this.#started, now)}`,
    );
    // Back to the first line drawn last time, then each line cleared and written again.
    const up = this.#drawn > 0 ? `\x1b[${this.#drawn}F` : '';
    this.#drawn = lines.length;
    return `${up}${lines.map((l) => `\x1b[2K${l}\n`).join('')}`;
  }
}

/**
 * Shows a pull's progress: on a terminal a board redrawn in place (a line per file and a total,
 * each with bytes, speed and ETA); otherwise a line per finished file; with `json` each event as
 * a JSON line (Ollama's shape). Resolves with the model name, rejects with the pull's error.
 */
export async function showPullProgress(
  pull: Pull,
  out: (text: string) => void,
  mode: 'tty' | 'lines' | 'json',
): Promise<string> {
  const board = new ProgressBoard();
  const draw = (event: PullEvent): void => {
    if (mode === 'json') {
      out(`${JSON.stringify(event)}\n`);
      return;
    }
    const view = pull.view();
    switch (event.status) {
      case 'pulling manifest':
        out(`pulling ${event.source}\n`);
        break;
      case 'downloading':
      case 'verifying':
        board.update(event);
        if (mode === 'tty') out(board.render(view));
        else if (event.status === 'verifying') out(`  ${event.file} downloaded, verifying\n`);
        break;
      case 'success':
        out(`pulled '${event.model}' (${formatBytes(view.total)})\n`);
        break;
      case 'error':
        break;
    }
  };
  const unsubscribe = pull.subscribe(draw);
  try {
    return await pull.done;
  } finally {
    unsubscribe();
  }
}
