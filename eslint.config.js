import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**', '.nx/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'off',
      // A service never imports another service; libs only through @tunnelkey/<lib>.
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', 'type:contracts'] },
            { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:lib', 'type:contracts'] },
            // Whole-platform tests and the demo start several services together.
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:service', 'type:lib', 'type:contracts'] },
            // What another team writes: the public contract only (its test may use our test libs).
            { sourceTag: 'type:example', onlyDependOnLibsWithTags: ['type:contracts', 'type:lib'] },
          ],
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/services/**', '../../services/*'], message: 'A service never imports another service.' },
            {
              group: ['**/libs/*/src/**', '../../libs/**', '**/contracts/src/**'],
              message: 'Import libs through @tunnelkey/<lib>.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    // The web console runs in the browser: plain ES modules served by the gateway.
    files: ['services/gateway/src/console/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'sessionStorage',
          'fetch',
          'EventSource',
          'Event',
          'MessageEvent',
          'Node',
          'HTMLElement',
          'HTMLInputElement',
          'HTMLSelectElement',
          'HTMLButtonElement',
          'HTMLDialogElement',
          'Element',
          'CSS',
          'crypto',
          'URLSearchParams',
          'setTimeout',
          'clearTimeout',
          'queueMicrotask',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
