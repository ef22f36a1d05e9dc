#!/usr/bin/env node
// The `pictor` command: the Node.js version is checked (a static import of plain JavaScript,
// evaluated first), then the CLI runs — from its TypeScript sources in a checkout, from the
// compiled `dist/` when installed (Node strips no types under node_modules).
import './check-node.js';

const installed = import.meta.dirname.split(/[\\/]/).includes('node_modules');
await import(installed ? '../dist/cli/main.js' : '../src/cli/main.ts');
