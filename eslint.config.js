// ESLint flat config: typescript-eslint's recommended rules over the TypeScript and
// JavaScript that runs on the desktop (compiler/, host/, targets/, bench/, examples/,
// test/, bin/ and the tool configs). `npm run lint`; CI runs it (.ci/run).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.cache/**',
      'bench/results/**',
      // AssemblyScript, not TypeScript: 10 of its 17 files do not parse ("Decorators are not
      // valid here": @inline on top-level functions), and i32/f32/v128 and builtins such as
      // load<T> only mean something to asc, which type-checks these files when it builds them.
      'assembly/**',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `const { dropped: _, ...rest } = x` is how the code omits a key from a copy; a
      // leading underscore marks any binding that is unused on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // A closure made before the value exists (an import object's abort() reading the
      // memory of the instance it is given to) needs a `let` assigned once, later.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Issue 12's rule, kept by CI: a function in the compiler or a host reads in one sitting.
    files: ['compiler/**/*.ts', 'host/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }] },
  },
);
