// The app's client file, as Dynamic's docs import it (`import { dynamicClient } from '<path to
// client file>'`). Point `apiBaseUrl` at the emulator in development (see the README).
import {
  createDynamicClient,
  setLogger,
  consoleLogger,
} from '@dynamic-byoa/react-native';

export const dynamicClient = createDynamicClient({
  environmentId: '2762a57b-faa4-41ce-9f16-abff9300e2c9',
  apiBaseUrl: __DEV__ ? 'http://127.0.0.1:4010/api/v0' : undefined,
});

if (__DEV__) setLogger(consoleLogger, { level: 'info' });
