import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import noburn from './scripts/lint-rules.js';

// The layering of src/: lib is the base and imports none of the others; proxy, server and
// tui each build on lib only; cli (the entry) may import them all. Packages that belong to
// one layer (the terminal UI, the CLI parser, the metrics exporter) stay out of the rest.
const uiPackages = ['ink', 'react', 'ink-testing-library'];
const cliPackages = ['commander', '@commander-js/extra-typings'];
const layers = {
  lib: { layers: ['cli', 'tui', 'server', 'proxy'], packages: [...uiPackages, ...cliPackages, 'prom-client'] },
  proxy: { layers: ['cli', 'tui', 'server'], packages: [...uiPackages, ...cliPackages, 'prom-client'] },
  server: { layers: ['cli', 'tui', 'proxy'], packages: [...uiPackages, ...cliPackages] },
  tui: { layers: ['cli', 'server', 'proxy'], packages: [...cliPackages, 'prom-client'] },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    plugins: { noburn },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      'noburn/module-comment-first': 'error',
    },
  },
  {
    // Typed rules: a promise nobody awaits loses its rejection (an unhandled rejection ends
    // the process), and a promise where a void callback is expected is never awaited.
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['src/tui/**/*.{ts,tsx}'],
    ...reactHooks.configs.flat.recommended,
  },
  {
    files: ['src/**/*.{ts,tsx}'],
    rules: { 'noburn/layers': ['error', layers] },
  },
  {
    files: ['src/lib/**/*.ts'],
    rules: {
      'no-console': 'error',
      'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'src/lib never exits' }],
    },
  },
);
