import type { DownloadingModel, ModelView } from '../api-types.ts';

/** A model's state: loaded, available (loads on first use), failed with why, or downloading. */
export function ModelStateCell({ model: m }: { readonly model: ModelView | DownloadingModel }) {
  switch (m.state) {
    case 'downloading': {
      const { total, completed } = m.progress;
      return (
        <td class="downloading">
          downloading {total > 0 ? `${Math.floor((completed / total) * 100)}%` : ''}
          <progress max={total || 1} value={total === 0 ? undefined : completed} />
        </td>
      );
    }
    case 'failed':
      return (
        <td class="fail">
          failed<span class="model-error">: {m.error ?? 'unknown reason'}</span>
        </td>
      );
    case 'loaded':
    case 'available':
      return <td>{m.state}</td>;
  }
}
