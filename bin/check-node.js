/* global process */
// Pictor runs its TypeScript sources, which Node strips of types from 22.18 on; an older Node
// would fail on the first `.ts` import with an obscure error. Plain JavaScript, imported (or
// run, by `npm start`'s prestart) before anything else: it says what is needed and exits.
const NEEDED = [22, 18];
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < NEEDED[0] || (major === NEEDED[0] && minor < NEEDED[1])) {
  process.stderr.write(
    `pictor needs Node.js ${NEEDED.join('.')} or newer (24 recommended); this is Node.js ${process.versions.node} (${process.execPath}).\n` +
      '  Get it from https://nodejs.org/en/download, or with a version manager: nvm install 24 && nvm use 24\n',
  );
  process.exit(1);
}
