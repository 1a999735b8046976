// Flat config: typescript-eslint's recommended rules over the whole tree, plus the type-aware rules
// about promises and exhaustive switches, and the import boundaries between the two programs
// (.dependency-cruiser.cjs checks the finer agent layers and cycles; both run in `npm run lint`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** A program (or the shared floor) must not reach into these top-level folders. */
function forbidFolders(message, ...folders) {
  return {
    'no-restricted-imports': ['error', { patterns: folders.map((f) => ({ regex: `^(\\.\\./)+${f}/`, message })) }],
  };
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'test/fixtures/', 'release/', '.dependency-cruiser.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      'no-console': 'off',
    },
  },
  {
    // The web console's browser code (plain script served as is, no bundler): browser globals only.
    files: ['control-plane/console/assets/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        ['window', 'document', 'fetch', 'EventSource', 'Node', 'CSS', 'setTimeout', 'clearTimeout', 'console'].map((name) => [
          name,
          'readonly',
        ]),
      ),
    },
  },
  {
    files: ['agent/**/*.ts'],
    rules: forbidFolders('The agent ships without the control plane; move shared code to common/.', 'control-plane', 'test'),
  },
  {
    files: ['control-plane/**/*.ts'],
    rules: forbidFolders('The control plane is a separate program; move code both use to common/.', 'agent', 'test'),
  },
  {
    files: ['common/**/*.ts'],
    rules: forbidFolders(
      'common/ is the shared floor: it imports neither program nor appspec.',
      'agent',
      'control-plane',
      'appspec',
      'test',
    ),
  },
  {
    files: ['appspec/**/*.ts'],
    rules: forbidFolders('appspec/ is a pure library with no dependencies in the tree.', 'agent', 'control-plane', 'common', 'test'),
  },
);
