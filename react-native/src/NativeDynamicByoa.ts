/**
 * The TurboModule spec: the contract the Android (Kotlin) and iOS (Objective-C++ over Swift)
 * modules implement. New Architecture only, React Native 0.80 or newer (the `CodegenTypes`
 * namespace form of the typed event emitter).
 *
 * The native modules are adapters: every payload below is computed by the Rust core's bridge
 * functions (`dynamic_byoa::bridge`) and forwarded as is.
 *
 * - Clients are keyed by a `handle` (`createClient`), so several clients (one per environment)
 *   work side by side.
 * - Sessions, states and step-ups resolve with JSON text: `bridge_session_json`,
 *   `bridge_state_json`, `bridge_elevated_access_json`. The TypeScript layer parses them.
 * - A failure rejects with `reject(code, message, userInfo)` from `bridge_rejection(error)`:
 *   `code`, `message`, and `userInfo` = the parsed `user_info_json` object (a map on Android,
 *   an NSDictionary on iOS). On Android, do not pass the Throwable (or accept that `error.name`
 *   becomes its class name; the TypeScript layer ignores `name`).
 * - Events are emitted only after JavaScript asked for them: `onAuthStateChanged` after
 *   `startAuthStateEvents(handle)` (register a Rust `AuthListener` then; its first call is the
 *   current state), `onLog` after `setLogLevel` with a level. The generated emitter crashes when
 *   used before JavaScript has looked the module up.
 * - A state event is emitted from the Rust listener as the core delivers it, before the call
 *   that caused it settles its promise: keep that order (emit synchronously from the listener).
 */
import { TurboModuleRegistry } from 'react-native';
import type { CodegenTypes, TurboModule } from 'react-native';

/** `createClient`'s argument; a key left out means the Rust default (`DEFAULT_*`). */
export type NativeClientConfig = {
  environmentId: string;
  apiBaseUrl?: string;
  appOrigin?: string;
  requestTimeoutMs?: number;
  clockLeewaySeconds?: number;
  autoRefresh?: boolean;
  refreshMarginSeconds?: number;
  bindSessionKey?: boolean;
};

/** One state change of one client. */
export type NativeAuthStateEvent = {
  handle: number;
  /** `bridge_state_json(state)`. */
  stateJson: string;
  /** `client.auth().tokens()?.bearerToken()` read in the listener; null when signed out. */
  token: string | null;
};

/** One of the core's log lines (already redacted by the core). */
export type NativeLogEvent = {
  /** `error` | `warn` | `info` | `debug` | `trace` */
  level: string;
  /** `dynamic_byoa::http`, `::state`, ... */
  target: string;
  message: string;
};

export type NativeElevatedToken = {
  token: string | null;
};

export interface Spec extends TurboModule {
  /**
   * `DynamicClient(config, ClientDependencies(storage = <the platform's secure store>,
   * keySigner = <the platform's keys>, httpTransport = <OkHttp / URLSession>))`; resolves with
   * a new handle. The module decides `freshInstall` (a marker in app-private storage).
   */
  createClient(config: NativeClientConfig): Promise<number>;
  /** Stops the client's events and drops the module's reference to it. */
  disposeClient(handle: number): void;
  /** Registers the Rust listener that emits `onAuthStateChanged` (first: the current state). */
  startAuthStateEvents(handle: number): void;
  stopAuthStateEvents(handle: number): void;
  /** Resolves with `bridge_session_json`. */
  signInWithExternalJwt(
    handle: number,
    externalJwt: string,
    externalUserId: string
  ): Promise<string>;
  /** Step-up; resolves with `bridge_elevated_access_json`. */
  verifyWithExternalJwt(handle: number, externalJwt: string): Promise<string>;
  /** `auth().restore()`; resolves with `bridge_state_json`. */
  restore(handle: number): Promise<string>;
  /** `auth().refresh()`; resolves with `bridge_session_json`. */
  refresh(handle: number): Promise<string>;
  /** `auth().accessToken(AccessTokenOptions(minTtlSeconds (null: default), forceRefresh))`. */
  getAccessToken(
    handle: number,
    minTtlSeconds: number | null,
    forceRefresh: boolean
  ): Promise<string>;
  /** `auth().elevatedAccessToken(scopes)`. */
  getElevatedAccessToken(
    handle: number,
    scopes: string[]
  ): Promise<NativeElevatedToken>;
  /** `auth().signOut()`. */
  logout(handle: number): Promise<void>;
  /**
   * `setLogger(<a logger emitting onLog>, level)` for `error` | `warn` | `info` | `debug` |
   * `trace`; `setLogger(null, ...)` for `off`.
   */
  setLogLevel(level: string): void;

  readonly onAuthStateChanged: CodegenTypes.EventEmitter<NativeAuthStateEvent>;
  readonly onLog: CodegenTypes.EventEmitter<NativeLogEvent>;
}

/** The module's registered name, `DynamicByoa`. */
export const MODULE_NAME = 'DynamicByoa';

/** Null when the app was built without the native module (see `native.ts`). */
export default TurboModuleRegistry.get<Spec>('DynamicByoa');
