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
      name: 'store-hands-out-no-db-handle',
      comment: 'the raw database handle stays inside src/store (callers use Store methods)',
      severity: 'error',
      from: { pathNot: '^src/store/' },
      to: { path: '^src/store/(internal|db)[.]ts$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    // Layer order (DESIGN §1), lowest first: core < store < safety < engines < runner < remote < server < cli.
    // A layer imports only from layers below it; type-only imports count too (no dependencyTypesNot).
    {
      name: 'layer-store',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/(engines|safety|runner|remote|server|cli|web)/' },
    },
    {
      name: 'layer-safety',
      severity: 'error',
      from: { path: '^src/safety/' },
      to: { path: '^src/(engines|runner|remote|server|cli|web)/' },
    },
    {
      name: 'layer-engines',
      severity: 'error',
      from: { path: '^src/engines/' },
      to: { path: '^src/(runner|remote|server|cli|web)/' },
    },
    {
      name: 'layer-runner',
      severity: 'error',
      from: { path: '^src/runner/' },
      to: { path: '^src/(remote|server|cli|web)/' },
    },
    {
      name: 'layer-remote',
      severity: 'error',
      from: { path: '^src/remote/' },
      to: { path: '^src/(server|cli|web)/' },
    },
    {
      name: 'layer-server',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/(cli|web)/' },
    },
    {
      name: 'remote-host-and-worker-apart',
      comment: 'the host side and the worker side of remote execution share only src/remote/*.ts (signing, pairing schemas)',
      severity: 'error',
      from: { path: '^src/remote/host/' },
      to: { path: '^src/remote/worker/' },
    },
    {
      name: 'remote-worker-and-host-apart',
      severity: 'error',
      from: { path: '^src/remote/worker/' },
      to: { path: '^src/remote/host/' },
    },
    {
      name: 'remote-worker-stays-off-the-host',
      comment: 'the worker side runs on another machine: no task service, scheduler or host store',
      severity: 'error',
      from: { path: '^src/remote/worker/' },
      to: { path: '^src/(runner|store)/' },
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
