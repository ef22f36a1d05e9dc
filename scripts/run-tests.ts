// Placeholder runner, replaced once the suites exist.
