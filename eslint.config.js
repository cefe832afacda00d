// Type-checked lint over the TypeScript sources; build output and vendored code are ignored.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ROOT = import.meta.dirname;

/** What each top-level folder may import besides itself (layout.json; test/unit/layout.test.ts checks cycles too). */
const ALLOWED_IMPORTS = JSON.parse(readFileSync(path.join(ROOT, 'layout.json'), 'utf8')).allowedImports;

const topFolder = (file) => path.relative(ROOT, file).split(path.sep)[0];

/** Flags a relative import that crosses into a folder the importing folder may not use. */
const roleBoundaries = {
  meta: { type: 'problem', schema: [], messages: { crossing: '{{from}}/ may not import from {{to}}/ ({{source}}): roles import only shared/; only cli/, dev/ and test/ compose roles' } },
  create(context) {
    const from = topFolder(context.filename);
    const allowed = ALLOWED_IMPORTS[from];
    if (allowed === undefined) return {};
    const check = (source) => {
      if (source?.type !== 'Literal' || typeof source.value !== 'string' || !source.value.startsWith('.')) return;
      const to = topFolder(path.resolve(path.dirname(context.filename), source.value));
      if (to !== from && !allowed.includes(to)) context.report({ node: source, messageId: 'crossing', data: { from, to, source: source.value } });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    };
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'terraform/**', 'compose/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: ROOT },
    },
    plugins: { meridian: { rules: { 'role-boundaries': roleBoundaries } } },
    rules: {
      // node:test's describe/it return promises the runner itself tracks.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'off',
      'meridian/role-boundaries': 'error',
    },
  },
  {
    // Production code raises MeridianErrors: a stable code, a message naming the field, a cause.
    files: ['shared/**/*.ts', 'agent/**/*.ts', 'gateway/**/*.ts', 'services/**/*.ts', 'cli/**/*.ts'],
    // The dashboard's browser code cannot load shared/errors (the page runs no imports).
    ignores: ['shared/errors/meridian-error.ts', 'services/status/dashboard/app.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name=/^(Error|TypeError|RangeError)$/]", message: 'throw a MeridianError (shared/errors) with a stable code instead of a bare Error' },
        { selector: 'ClassDeclaration[superClass.name="Error"]', message: 'extend MeridianError (shared/errors) so the error carries a stable code' },
      ],
    },
  },
);
