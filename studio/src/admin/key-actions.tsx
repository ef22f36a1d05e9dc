import { useState } from 'preact/hooks';
import type { ApiClient } from '../api-client.ts';
import type { KeyView } from '../api-types.ts';

interface Props {
  readonly api: ApiClient;
  readonly apiKey: KeyView;
  /** Runs a change, then reloads the list (or shows the API's problem). */
  readonly act: (change: Promise<unknown>) => void;
}

/** One key's changes: a credit grant (negative: an adjustment), its rate limit, deactivation. */
export function KeyActions({ api, apiKey: k, act }: Props) {
  const [amount, setAmount] = useState(100);
  const [reason, setReason] = useState('granted in the studio');
  const [rateLimit, setRateLimit] = useState(k.rate_limit);
  return (
    <div class="key-actions">
      <form
        class="row"
        aria-label={`grant credits to ${k.name}`}
        onSubmit={(e) => {
          e.preventDefault();
          act(api.send('POST', `/v1/admin/keys/${k.id}/credits`, { amount, reason }));
        }}
      >
        <input
          name="amount"
          type="number"
          aria-label="credits to add"
          value={amount}
          onInput={(e) => setAmount(Number(e.currentTarget.value))}
        />
        <input
          name="reason"
          aria-label="reason"
          value={reason}
          onInput={(e) => setReason(e.currentTarget.value)}
        />
        <button type="submit">Grant</button>
      </form>
      <form
        class="row"
        aria-label={`rate limit of ${k.name}`}
        onSubmit={(e) => {
          e.preventDefault();
          act(api.send('PUT', `/v1/admin/keys/${k.id}`, { rate_limit: rateLimit }));
        }}
      >
        <input
          name="rate_limit"
          type="number"
          min={0}
          aria-label="requests per minute (0 = no limit)"
          value={rateLimit}
          onInput={(e) => setRateLimit(Number(e.currentTarget.value))}
        />
        <button type="submit">Set limit</button>
        {k.active && (
          <button type="button" onClick={() => act(api.send('DELETE', `/v1/admin/keys/${k.id}`))}>
            Deactivate
          </button>
        )}
      </form>
    </div>
  );
}
