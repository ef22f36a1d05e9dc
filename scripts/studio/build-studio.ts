// `npm run build:studio` (also run by `npm run build` and before `npm start`): bundles the studio
// (`studio/`, Preact) into static files under dist/studio/, which `src/api/studio/` serves.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '../..');
const source = path.join(root, 'studio');
const out = path.join(root, 'dist/studio');

const started = performance.now();
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { studio: path.join(source, 'src/main.tsx') },
  outdir: out,
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: path.join(source, 'tsconfig.json'),
  logLevel: 'warning',
});
for (const file of ['index.html', 'studio.css', 'icon.svg'])
  copyFileSync(path.join(source, file), path.join(out, file));
console.log(`studio built in ${Math.round(performance.now() - started)} ms → dist/studio/`);
