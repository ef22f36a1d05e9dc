#!/usr/bin/env node
// The `pictor` command: the Node.js version is checked (a static import of plain JavaScript,
// evaluated first), then the CLI runs from its TypeScript sources.
import './check-node.js';

await import('../src/cli/main.ts');
