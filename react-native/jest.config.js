/** Two suites: `unit` (the spec mocked with the Rust bridge's own payloads) and `e2e` (the spec
 * implemented by the Rust test host, against the emulator). */
const common = {
  preset: '@react-native/jest-preset',
  modulePathIgnorePatterns: ['<rootDir>/lib/'],
};

module.exports = {
  // Bounds every wait of the end-to-end suite (each wait also has its own, shorter bound).
  testTimeout: 60000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/__tests__/**/*.test.ts?(x)'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/e2e/**/*.test.ts'],
    },
  ],
};
