// `npm test`: runs every test file with Node's test runner. Suites that need PostgreSQL or Redis
// get their URLs from the environment; when a service is unreachable those suites skip and this
// script says so — unless PICTOR_TEST_REQUIRE_SERVICES=1 (CI), where a missing service fails.
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { connect } from 'node:net';

const services = {
  PICTOR_TEST_POSTGRES_URL: {
    url: 'postgres://postgres@127.0.0.1:5432/test',
    host: '127.0.0.1',
    port: 5432,
  },
  PICTOR_TEST_REDIS_URL: { url: 'redis://127.0.0.1:6379', host: '127.0.0.1', port: 6379 },
} as const;

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const env = { ...process.env };
const missing: string[] = [];
for (const [name, service] of Object.entries(services)) {
  if (env[name] === '') continue; // explicitly disabled
  if (env[name] === undefined && (await reachable(service.host, service.port)))
    env[name] = service.url;
  if (env[name] === undefined) missing.push(`${name} (${service.host}:${service.port})`);
}
if (missing.length > 0) {
  if (env['PICTOR_TEST_REQUIRE_SERVICES'] === '1') {
    console.error(`required services unreachable: ${missing.join(', ')}`);
    process.exit(1);
  }
  console.log(`note: unreachable, their suites will be skipped: ${missing.join(', ')}`);
}

const patterns = process.argv.slice(2);
const files = globSync(patterns.length > 0 ? patterns : ['test/**/*.test.ts']).sort();
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env,
});
process.exit(result.status ?? 1);
