import type { ModelView } from '../api-types.ts';

/** Admin: the models served (pulling and removing arrive with the model library). */
export function ModelsPage({ models }: { readonly models: readonly ModelView[] }) {
  return (
    <section class="models">
      <table>
        <thead>
          <tr>
            <th>Model</th>
            <th>Family</th>
            <th>State</th>
            <th>Defaults</th>
            <th>Limits</th>
          </tr>
        </thead>
        <tbody>
          {models.map((m) => (
            <tr key={m.name}>
              <td>
                {m.name}
                {m.default ? ' (default)' : ''}
              </td>
              <td>{m.family}</td>
              <td>{m.available ? 'available' : (m.error ?? 'unavailable')}</td>
              <td>
                {m.defaults.width}×{m.defaults.height}, {m.defaults.steps} steps,{' '}
                {m.defaults.scheduler}
              </td>
              <td>
                {m.limits.min_size}–{m.limits.max_size}px, ≤ {m.limits.max_steps} steps
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
