// Type-aware lint for the whole workspace. Formatting is Prettier's job (`npm run format`), so every stylistic
// rule is off (eslint-config-prettier, last).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import n from 'eslint-plugin-n';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/node_modules/', '**/dist/', 'bench/results/', 'test-results/', 'playwright-report/', 'simulate-output/', '**/.tabula/'],
  },
  js.configs.recommended,
  // Includes no-floating-promises, no-misused-promises and the no-unsafe-* family.
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        // Each file is checked with the tsconfig.json nearest to it. These two config files belong to no package's
        // tsconfig.json (tsconfig.node.json and e2e's include them), so they get the Node one of the web app.
        projectService: {
          allowDefaultProject: ['playwright.config.ts', 'apps/web/vite.config.ts'],
          defaultProject: 'apps/web/tsconfig.node.json',
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { n },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      // `const { dropped: _, ...rest } = value` is how a copy without one key is written, and `_next` a parameter that
      // a signature needs and the body does not (Express tells an error handler by its four parameters).
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_' }],
      // Node's ESM loader needs the `.js` of a relative import (tsx and Vite forgive it, `node dist/` does not).
      'n/file-extension-in-import': ['error', 'always'],
    },
  },
  {
    // Playwright reads a test's fixtures from its first parameter, which must be a destructuring pattern, `{}` for none.
    files: ['e2e/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-empty-pattern': ['error', { allowObjectPatternsAsParameters: true }] },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  prettier,
);
