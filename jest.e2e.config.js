/**
 * End-to-end tests: the demo (examples/demo) driven by Debian's headless Chromium through
 * playwright-core. `npm run test:e2e`; needs /usr/bin/chromium (e2e/ensure-chromium.sh installs it).
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/e2e'],
  testMatch: ['**/*.e2e.ts'],
  transform: {
    '^.+\\.[jt]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json', diagnostics: false }]
  },
  moduleNameMapper: { '^arc-session$': '<rootDir>/lib/index.ts' },
  setupFiles: ['<rootDir>/spec/support/env.ts', '<rootDir>/e2e/support/env.ts'],
  // One browser at a time: the suites start Chromium and servers of their own.
  maxWorkers: 1,
  testTimeout: 60000,
  slowTestThreshold: 30
}
