import { useState } from 'preact/hooks';
import { ApiClient } from './api-client.ts';
import type { Balance } from './api-types.ts';
import { ProblemBanner } from './problem-banner.tsx';

interface Props {
  readonly apiKey: string;
  readonly balance: Balance | undefined;
  readonly onKey: (key: string) => void;
  /** Whether the server lets people sign up and sign in (`auth.signup`). */
  readonly signup: boolean;
}

/** The key entered once (kept in the browser), the caller's balance, or a sign-in form. */
export function KeyBar({ apiKey, balance, onKey, signup }: Props) {
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  if (apiKey !== '') {
    return (
      <div class="key-bar">
        <span class="who">
          {balance?.name ?? 'key'} ·{' '}
          <span class="credits">
            {balance === undefined
              ? '…'
              : balance.credits === null
                ? 'unmetered'
                : `${balance.credits} credits`}
          </span>
        </span>
        <button type="button" onClick={() => onKey('')}>
          Sign out
        </button>
      </div>
    );
  }
  const signIn = async (form: HTMLFormElement, path: string): Promise<void> => {
    const data = new FormData(form);
    const credentials = { username: data.get('username'), password: data.get('password') };
    const anonymous = new ApiClient('');
    if (path === '/v1/auth/signup') await anonymous.send('POST', path, credentials);
    const { token } = await anonymous.send<{ token: string }>(
      'POST',
      '/v1/auth/login',
      credentials,
    );
    // A login token only manages the user's keys: make one for this browser.
    const { key } = await new ApiClient(token).send<{ key: string }>('POST', '/v1/account/keys', {
      name: 'studio',
    });
    onKey(key);
  };
  return (
    <div class="key-entry">
      <form
        class="row"
        aria-label="enter your API key"
        onSubmit={(e) => {
          e.preventDefault();
          if (draft.trim() !== '') onKey(draft.trim());
        }}
      >
        <label>
          API key{' '}
          <input
            name="api_key"
            type="password"
            autoComplete="off"
            value={draft}
            placeholder="sk_…"
            onInput={(e) => setDraft(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary">
          Use key
        </button>
      </form>
      {signup && (
        <form
          class="row"
          aria-label="sign in"
          onSubmit={(e) => {
            e.preventDefault();
            const submitter = (e.submitter as HTMLButtonElement | null)?.value ?? 'login';
            signIn(
              e.currentTarget,
              submitter === 'signup' ? '/v1/auth/signup' : '/v1/auth/login',
            ).catch(setError);
          }}
        >
          <label>
            User <input name="username" autoComplete="username" required />
          </label>
          <label>
            Password{' '}
            <input name="password" type="password" autoComplete="current-password" required />
          </label>
          <button type="submit" value="login">
            Sign in
          </button>
          <button type="submit" value="signup">
            Sign up
          </button>
        </form>
      )}
      <ProblemBanner error={error} />
    </div>
  );
}
