/**
 * Jest in ESM mode through ts-jest. Three projects so that `--selectProjects unit|integration|hostile`
 * runs one layer; `npm test` runs all. Type errors are caught by `npm run typecheck`, so ts-jest only transpiles
 * (tsconfig's isolatedModules), which keeps the suite fast.
 */
const tsJest = [
  'ts-jest',
  { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false },
];

const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': tsJest },
  // Source imports end in `.js` (NodeNext ESM); jest resolves the `.ts` file behind them.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    // Hostile inputs, faults and churn (issue 6); its reporter prints the closing summary.
    { ...common, displayName: 'hostile', testMatch: ['<rootDir>/test/hostile/**/*.test.ts'] },
  ],
  reporters: ['default', '<rootDir>/test/hostile/summary-reporter.js'],
  testTimeout: 20000,
};
