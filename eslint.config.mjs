// ESLint flat config. Besides the usual rules it enforces the layering by runtime (as VS Code does):
// only main/index.ts, main/electron/ and preload/ may import electron; the engine never reaches up into the
// app, the CLI or the helper; the renderer sees nothing of Node, only main/contract (types) and main/shared
// (pure code that runs on both sides).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import prettier from 'eslint-config-prettier';

const electronBan = {
  name: 'electron',
  message:
    'Only main/index.ts, main/electron/ and preload/ may import electron: the engine must run in plain Node.',
};
const nodeBuiltins = [
  'fs',
  'path',
  'os',
  'child_process',
  'net',
  'crypto',
  'worker_threads',
  'stream',
  'zlib',
];

/**
 * The `no-restricted-imports` rule for one layer: electron banned unless `electron` is allowed; with
 * `noNode` (the message), the Node built-ins by name and as `node:*`; then the layer's own `patterns`.
 */
function restrictImports({ electron = false, noNode, patterns }) {
  const paths = electron ? [] : [electronBan];
  const nodePatterns = [];
  if (noNode) {
    paths.push(...nodeBuiltins.map((name) => ({ name, message: noNode })));
    nodePatterns.push({ group: ['node:*'], message: noNode });
  }
  return ['error', { ...(paths.length > 0 ? { paths } : {}), patterns: [...nodePatterns, ...patterns] }];
}

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // type-aware: a promise nobody awaits or catches, or one handed where a plain callback is expected, rejects
    // unobserved (each file is checked with its own tsconfig: main and tests, renderer, preload)
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test reports a test's failure itself; the promise its test() returns never rejects
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['scripts/**/*.mjs', 'eslint.config.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    // plain Node: engine, helper, CLI, app handlers, tests, benches
    files: ['main/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    ignores: ['main/index.ts', 'main/electron/**'],
    rules: {
      'no-restricted-imports': restrictImports({ patterns: ['**/electron/*', '**/renderer/**'] }),
    },
  },
  {
    // the engine is the lowest layer: it never depends on its callers
    files: ['main/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': restrictImports({
        patterns: [
          { group: ['**/cli/**', '**/cli', '../../cli/*'], message: 'The engine must not import the CLI.' },
          {
            group: ['**/helper/**', '**/app/**', '**/electron/**', '**/renderer/**'],
            message: 'The engine must not import its callers.',
          },
        ],
      }),
    },
  },
  {
    // main/shared: pure code (formatting, names, target rules) that main and the renderer both run: no Node, no
    // engine; the contract's types only
    files: ['main/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': restrictImports({
        noNode: 'main/shared runs in the renderer too: no Node.',
        patterns: [
          {
            group: ['../*', '!../shared/*', '!../contract'],
            message: 'main/shared imports nothing outside itself but the contract (types).',
          },
        ],
      }),
    },
  },
  {
    // the contract is types only, shared by main, preload and renderer
    files: ['main/contract/**/*.ts'],
    rules: {
      'no-restricted-imports': restrictImports({
        patterns: [{ group: ['../*', '!./*'], message: 'The contract imports nothing outside itself.' }],
      }),
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['preload/**/*.ts'],
    rules: {
      'no-restricted-imports': restrictImports({
        electron: true,
        patterns: [
          {
            group: ['**/engine/**', '**/app/**', '**/cli/**', '**/renderer/**'],
            message: 'The preload forwards the contract and nothing else.',
          },
        ],
      }),
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': restrictImports({
        noNode: 'The renderer is a sandboxed web page: no Node.',
        patterns: [
          {
            group: [
              '**/main/engine/**',
              '**/main/app/**',
              '**/main/cli/**',
              '**/main/helper/**',
              '**/main/electron/**',
            ],
            message: 'The renderer talks to main only through the contract (window.atlas).',
          },
        ],
      }),
    },
  },
  prettier,
);
