import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', 'dist', 'pictor-data', 'models', 'test/fixtures', 'coverage'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test registers tests synchronously; their promises are the runner's to await.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // Folder boundaries: the jobs core sees ports only (never adapters, the web framework or SQL),
  // and the engine is a library that imports nothing of Pictor outside itself.
  {
    files: ['src/jobs/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['fastify', '@fastify/*', 'kysely', 'pg', 'ioredis', 'bullmq'],
              message: 'the jobs core talks to ports; adapters live outside it',
            },
            {
              group: [
                './in-process/*',
                './redis/*',
                '../api/*',
                '../store/*',
                '../workers/*',
                '../accounts/*',
                '../webhooks/*',
                '../cli/*',
                '../config/*',
                '../storage/*/*',
              ],
              message: 'the jobs core imports ports, not adapters (compose them in src/cli/)',
            },
          ],
        },
      ],
    },
  },
  // Queue and event-bus adapters implement the core's ports and need nothing else of Pictor.
  {
    files: ['src/jobs/in-process/*.ts', 'src/jobs/redis/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['fastify', '@fastify/*', 'kysely', 'pg', '../../*'],
              message: 'a jobs adapter implements a port of src/jobs/ and needs nothing else',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/jobs/in-process/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['ioredis', 'bullmq', '../redis/*', 'fastify', 'kysely', 'pg', '../../*'],
              message:
                'the in-process adapters run without Redis and outside Pictor’s other folders',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/engine/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../*'],
              message: 'src/engine/ is a library: it imports nothing outside itself',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/engine/*/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../../*'],
              message: 'src/engine/ is a library: it imports nothing outside itself',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/engine/*/*/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../../../*'],
              message: 'src/engine/ is a library: it imports nothing outside itself',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
