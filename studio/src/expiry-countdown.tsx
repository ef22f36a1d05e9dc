import { useEffect, useState } from 'preact/hooks';

/** "expires in 12:34" until `expiresAt`, ticking each second. */
export function ExpiryCountdown({ expiresAt }: { readonly expiresAt: string }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const left = Math.max(0, Math.round((Date.parse(expiresAt) - now) / 1000));
  if (left === 0) return <span class="expiry">expired</span>;
  const minutes = Math.floor(left / 60);
  const seconds = String(left % 60).padStart(2, '0');
  return (
    <span class="expiry" title={expiresAt}>
      expires in {minutes}:{seconds}
    </span>
  );
}
