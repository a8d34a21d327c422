import { expect, it, jest } from '@jest/globals';
import {
  createDynamicClient,
  DynamicError,
  NATIVE_MODULE_MISSING_MESSAGE,
  setLogger,
} from '../index';

// The app was built without the native module: TurboModuleRegistry.get returned null.
jest.mock('../NativeDynamicByoa', () => ({
  __esModule: true,
  MODULE_NAME: 'DynamicByoa',
  default: null,
}));

it('says what to do when the native module is missing', () => {
  let error: unknown;
  try {
    createDynamicClient({
      environmentId: '2762a57b-faa4-41ce-9f16-abff9300e2c9',
    });
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(DynamicError);
  const e = error as DynamicError;
  expect(e.code).toBe('invalid_configuration');
  expect(e.category).toBe('misconfiguration');
  expect(e.details.field).toBe('nativeModule');
  expect(e.message).toBe(NATIVE_MODULE_MISSING_MESSAGE);
  for (const hint of [
    'pod install',
    'Gradle',
    'New Architecture',
    'Expo Go',
    'development build',
  ]) {
    expect(e.message).toContain(hint);
  }
});

it('setLogger says the same', () => {
  expect(() => setLogger(() => {})).toThrow(NATIVE_MODULE_MISSING_MESSAGE);
});
