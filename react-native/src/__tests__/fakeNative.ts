/**
 * The spec, replaced for the unit tests: jest functions answering with the payloads the Rust
 * bridge produces (`__fixtures__/bridge-samples.json`, written by `byoa-rn-test-host
 * --bridge-samples` and checked for drift by scripts/test-react-native.sh), and an event emitter
 * the test drives.
 */
import { jest } from '@jest/globals';
import type {
  NativeAuthStateEvent,
  NativeLogEvent,
  Spec,
} from '../NativeDynamicByoa';
import samples from '../__fixtures__/bridge-samples.json';

export type BridgeRejection = {
  code: string;
  message: string;
  userInfo: Record<string, unknown>;
};

export const bridge = samples as {
  errorCodes: string[];
  rejections: BridgeRejection[];
  states: string[];
  session: string;
  elevatedAccess: string;
};

/** The state sample with this status (and sign-out reason). */
export function stateJson(status: string, reason?: string | null): string {
  const found = bridge.states.find((json) => {
    const state = JSON.parse(json) as {
      status: string;
      reason?: string | null;
    };
    return (
      state.status === status &&
      (reason === undefined || state.reason === reason)
    );
  });
  if (found === undefined)
    throw new Error(`no state sample ${status} ${reason}`);
  return found;
}

export function rejection(code: string): BridgeRejection {
  const found = bridge.rejections.find((r) => r.code === code);
  if (found === undefined) throw new Error(`no rejection sample ${code}`);
  return found;
}

/** What RN's Android TurboModule makes of `promise.reject(code, message, throwable, userInfo)`. */
export function androidRejection(r: BridgeRejection): Error {
  return Object.assign(new Error(r.message), {
    code: r.code,
    userInfo: r.userInfo,
    name: 'xyz.dynamic.byoa.ByoaException.ExternalAuthRejected',
    nativeStackAndroid: [
      { methodName: 'signInWithExternalJwt', lineNumber: 1 },
    ],
  });
}

/** What RN's iOS TurboModule makes of `reject(code, message, NSError(userInfo))`. */
export function iosRejection(r: BridgeRejection): Error {
  return Object.assign(new Error(r.message), {
    code: r.code,
    domain: 'DynamicByoa',
    userInfo: r.userInfo,
    nativeStackIOS: ['0 DynamicByoa 0x0 -[DynamicByoa signInWithExternalJwt:]'],
  });
}

type Listener<T> = (event: T) => void;

function emitter<T>() {
  const listeners = new Set<Listener<T>>();
  return {
    listeners,
    subscribe: (listener: Listener<T>) => {
      listeners.add(listener);
      return { remove: () => listeners.delete(listener) };
    },
    emit: (event: T) => {
      for (const listener of [...listeners]) listener(event);
    },
  };
}

function build() {
  const states = emitter<NativeAuthStateEvent>();
  const logs = emitter<NativeLogEvent>();
  let nextHandle = 1;
  const native = {
    createClient: jest.fn(async () => nextHandle++),
    disposeClient: jest.fn(),
    startAuthStateEvents: jest.fn(),
    stopAuthStateEvents: jest.fn(),
    signInWithExternalJwt: jest.fn(async () => bridge.session),
    verifyWithExternalJwt: jest.fn(async () => bridge.elevatedAccess),
    restore: jest.fn(async () => stateJson('signedIn')),
    refresh: jest.fn(async () => bridge.session),
    getAccessToken: jest.fn(async () => 'bearer-token'),
    getElevatedAccessToken: jest.fn(async () => ({
      token: 'elevated-token' as string | null,
    })),
    logout: jest.fn(async () => undefined),
    setLogLevel: jest.fn(),
    onAuthStateChanged: jest.fn(states.subscribe),
    onLog: jest.fn(logs.subscribe),
  };
  return { native, states, logs };
}

let current = build();

/** The module object `NativeDynamicByoa` exports in the unit tests; reset before each test. */
export const fakeNative = new Proxy({} as Spec, {
  get: (_target, key) =>
    (current.native as Record<string | symbol, unknown>)[key],
});

export function resetFake() {
  current = build();
  return current;
}

export function fake() {
  return current;
}

/** Emits a state event of `handle` (as the module does from the Rust listener). */
export function emitState(
  handle: number,
  json: string,
  token: string | null = null
) {
  current.states.emit({ handle, stateJson: json, token });
}

/** Lets every pending promise callback run (bounded: one macrotask turn). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
