import { formatBytes } from '../../../src/library/format-bytes.ts';
import { isFinished, pullBytes, pullStage, type PullProgress } from './model-pull.ts';

interface Props {
  readonly pull: PullProgress;
  readonly onCancel: () => void;
  readonly onDismiss: () => void;
}

/** One pull: its stage, a progress bar over the bytes known so far, then success or the error. */
export function PullCard({ pull, onCancel, onDismiss }: Props) {
  const { total, completed } = pullBytes(pull);
  const finished = isFinished(pull);
  const { stage, file } = pullStage(pull);
  return (
    <article class={`pull ${pull.status === 'error' ? 'failed' : ''}`} data-pull-id={pull.id}>
      <p>
        <strong>{pull.model ?? pull.source}</strong>
        {pull.model !== undefined && <span class="meta"> from {pull.source}</span>}
      </p>
      {!finished && (
        <>
          <p class="pull-stage" data-stage={stage}>
            {stage}
            {file === undefined ? '' : ` ${file}`}
          </p>
          <progress
            aria-label={`pull of ${pull.model ?? pull.source}`}
            max={total || 1}
            value={total === 0 ? undefined : completed}
          />
          <p class="meta pull-bytes">
            {formatBytes(completed)}
            {total > 0 && ` of ${formatBytes(total)} (${Math.floor((completed / total) * 100)}%)`}
          </p>
          <button type="button" onClick={onCancel}>
            Cancel pull
          </button>
        </>
      )}
      {pull.status === 'success' && (
        <p role="status">
          pulled '{pull.model}' ({formatBytes(total)}): it is served now
        </p>
      )}
      {pull.status === 'error' && (
        <p class="problem" role="alert">
          {pull.error}
        </p>
      )}
      {finished && (
        <button type="button" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </article>
  );
}
