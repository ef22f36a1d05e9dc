/** An error line: the API problem's `detail`, or any error's message. */
export function ProblemBanner({ error }: { readonly error: unknown }) {
  if (error === undefined || error === null) return null;
  const message = error instanceof Error ? error.message : JSON.stringify(error);
  return (
    <p class="problem" role="alert">
      {message}
    </p>
  );
}
