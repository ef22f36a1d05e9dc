#!/usr/bin/env node
// The `pictor` command: the CLI runs from its TypeScript sources (Node >= 22.18 strips types).
import '../src/cli/main.ts';
