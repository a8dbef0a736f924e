// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The deterministic core (src/core, src/protocols) must replay bit for bit in the simulator, so it
 * may not reach for I/O, a clock, a timer, ambient randomness or asynchrony. These rules are the
 * fence; test/core/lint.test.ts proves the fence holds.
 */
const impureGlobals = [
  'Date', 'performance', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout',
  'clearInterval', 'clearImmediate', 'queueMicrotask', 'process', 'Buffer', 'fetch', 'crypto',
  'require', 'console', 'globalThis',
].map((name) => ({ name, message: 'The deterministic core has no clock, timers, I/O or globals: pass it in.' }));

export const deterministicCoreRules = {
  'no-restricted-globals': ['error', ...impureGlobals],
  'no-restricted-properties': ['error',
    { object: 'Math', property: 'random', message: 'Use the injected seeded Rng.' }],
  'no-restricted-imports': ['error', {
    patterns: [
      { group: ['node:*', 'fs', 'fs/*', 'net', 'http', 'https', 'os', 'path', 'child_process', 'crypto', 'timers', 'timers/*', 'worker_threads', 'dgram', 'tls', 'zlib'], message: 'No I/O in the deterministic core.' },
      { group: ['**/storage/**', '**/transport/**', '**/node/**', '**/sim/**', '**/server/**', '**/cli/**', '**/kv/**', '**/check/**', '**/client/**'], message: 'The core imports nothing above it (DESIGN.md, Layers).' },
    ],
  }],
  'no-restricted-syntax': ['error',
    { selector: ':function[async=true]', message: 'The deterministic core is synchronous: output is data in ready().' },
    { selector: 'AwaitExpression', message: 'The deterministic core is synchronous.' },
    { selector: 'NewExpression[callee.name="Promise"]', message: 'The deterministic core is synchronous.' },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'out/**', 'scripts/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'No enum: use an `as const` object and a derived union.' }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  { files: ['src/core/**/*.ts', 'src/protocols/**/*.ts'], rules: {
    ...deterministicCoreRules,
    'no-restricted-syntax': [...deterministicCoreRules['no-restricted-syntax'],
      { selector: 'TSEnumDeclaration', message: 'No enum: use an `as const` object and a derived union.' }],
  } },
);
