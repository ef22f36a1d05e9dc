import type { Pull } from '../library/model-pulls.ts';
import { formatBytes } from '../library/format-bytes.ts';
import type { PullEvent } from '../library/pull-event.ts';

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
}

function percent(completed: number, total: number | undefined): string {
  return total ? `${Math.min(100, Math.floor((completed / total) * 100))}%` : '';
}

/**
 * Shows a pull's progress: on a terminal one line redrawn in place (the current file, then the
 * total, with speed and ETA); otherwise a line per finished file; with `json` each event as a
 * JSON line (Ollama's shape). Resolves with the model name, rejects with the pull's error.
 */
export async function showPullProgress(
  pull: Pull,
  out: (text: string) => void,
  mode: 'tty' | 'lines' | 'json',
): Promise<string> {
  const started = Date.now();
  let resumedFrom: number | undefined;
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
      case 'downloading': {
        if (mode !== 'tty') break;
        resumedFrom ??= view.completed;
        const seconds = (Date.now() - started) / 1000;
        const speed = seconds > 0 ? (view.completed - resumedFrom) / seconds : 0;
        const eta = speed > 0 ? (view.total - view.completed) / speed : Infinity;
        out(
          `\r\x1b[K${event.file}  ${percent(event.completed, event.total)} ${formatBytes(event.completed)}` +
            `${event.total ? `/${formatBytes(event.total)}` : ''}  |  total ${percent(view.completed, view.total)} ` +
            `${formatBytes(view.completed)}/${formatBytes(view.total)}  ${formatBytes(speed)}/s  ETA ${duration(eta)}`,
        );
        break;
      }
      case 'verifying':
        if (mode === 'lines') out(`  ${event.file} downloaded, verifying\n`);
        break;
      case 'success':
        out(
          `${mode === 'tty' ? '\r\x1b[K' : ''}pulled '${event.model}' (${formatBytes(view.total)})\n`,
        );
        break;
      case 'error':
        if (mode === 'tty') out('\n');
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
