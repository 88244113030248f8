/** Layering rules from DESIGN.md §1, checked by `npm test`. */
module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment: 'src/core imports no other layer and no I/O modules (hashing from node:crypto is pure)',
      severity: 'error',
      from: { path: '^src/core' },
      to: { pathNot: '(^src/core|node_modules/zod/|^crypto$)', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'only-store-talks-sql',
      severity: 'error',
      from: { pathNot: '^src/store' },
      to: { path: 'node_modules/better-sqlite3' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'web-client-stays-in-browser',
      severity: 'error',
      from: { path: '^src/web' },
      to: { path: '^src/(store|engines|safety|runner|remote|server|cli)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
