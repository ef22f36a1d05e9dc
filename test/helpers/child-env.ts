/**
 * The environment for a spawned `pictor`: this process's, without its `PICTOR_*` variables (the
 * test runner's `PICTOR_TEST_*` would be read as unknown settings), plus the given ones.
 */
export function childEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('PICTOR_'));
  return { ...Object.fromEntries(inherited), ...settings };
}
