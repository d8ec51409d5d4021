/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec', '<rootDir>/examples'],
  testMatch: ['**/*.spec.ts'],
  transform: {
    '^.+\\.[jt]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json', diagnostics: false }]
  },
  // jose 6 ships ESM only: let ts-jest turn it into CommonJS for the tests that cross-check with it.
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  moduleNameMapper: { '^arc-session$': '<rootDir>/lib/index.ts' },
  setupFiles: ['<rootDir>/spec/support/env.ts'],
  globalSetup: '<rootDir>/spec/support/global-setup.ts',
  globalTeardown: '<rootDir>/spec/support/global-teardown.ts',
  testTimeout: 20000
}
