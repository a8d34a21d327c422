import NativeDynamicByoa, { MODULE_NAME, type Spec } from './NativeDynamicByoa';
import { DynamicError } from './errors';

/** Why the module can be missing, and what to do, in one message. */
export const NATIVE_MODULE_MISSING_MESSAGE =
  `The native module '${MODULE_NAME}' of @dynamic-byoa/react-native is not in this app build. ` +
  'Rebuild the app after installing the package (iOS: `cd ios && pod install`, then build; ' +
  'Android: rebuild with Gradle). The package needs the New Architecture (React Native 0.80 or ' +
  'newer) and custom native code, so it does not run in Expo Go: use a development build ' +
  '(`npx expo prebuild`). In jest, mock `NativeDynamicByoa`.';

/**
 * The TurboModule, or a `DynamicError` (`invalid_configuration`, field `nativeModule`) saying
 * how to get it into the app.
 */
export function nativeModule(): Spec {
  if (NativeDynamicByoa == null) {
    throw new DynamicError({
      code: 'invalid_configuration',
      message: NATIVE_MODULE_MISSING_MESSAGE,
      userInfo: {
        code: 'invalid_configuration',
        category: 'misconfiguration',
        isRetryable: false,
        field: 'nativeModule',
        detail: 'native module missing',
      },
    });
  }
  return NativeDynamicByoa;
}
