/**
 * `createDynamicClient(...)` and the `auth` / `auth.external` modules: a thin layer over the
 * TurboModule. Arguments are checked for presence and type before crossing the bridge; every
 * claim check, every decision and every payload is the Rust core's.
 */
import type { EventSubscription } from 'react-native';
import type {
  NativeAuthStateEvent,
  NativeClientConfig,
  Spec,
} from './NativeDynamicByoa';
import {
  DynamicError,
  describeType,
  invalidArgument,
  toDynamicError,
} from './errors';
import { nativeModule } from './native';
import type {
  AuthEventName,
  AuthEvents,
  AuthState,
  DynamicClientOptions,
  ElevatedAccess,
  GetAccessTokenOptions,
  Session,
  SignInWithExternalJwtParams,
  UserProfile,
  VerifyWithExternalJwtParams,
} from './types';

const STRING_OPTIONS = ['apiBaseUrl', 'appOrigin'] as const;
const NUMBER_OPTIONS = [
  'requestTimeoutMs',
  'clockLeewaySeconds',
  'refreshMarginSeconds',
] as const;
const BOOLEAN_OPTIONS = ['autoRefresh', 'bindSessionKey'] as const;

/** Presence and types only; the values (UUID, URL, ranges) are the core's to judge. */
function nativeConfig(options: DynamicClientOptions): NativeClientConfig {
  const bad = (field: string, message: string) =>
    invalidArgument('invalid_configuration', field, message);
  if (typeof options !== 'object' || options === null) {
    throw bad(
      'options',
      `createDynamicClient needs an options object ({ environmentId }), got ${describeType(options)}`
    );
  }
  const environmentId: unknown = options.environmentId;
  if (typeof environmentId !== 'string' || environmentId.length === 0) {
    throw bad(
      'environmentId',
      `createDynamicClient needs \`environmentId\` (the environment id from Dynamic's dashboard), got ${describeType(environmentId)}`
    );
  }
  const config: NativeClientConfig = { environmentId };
  const record = options as Record<string, unknown>;
  for (const key of STRING_OPTIONS) {
    const value = record[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') {
      throw bad(key, `\`${key}\` must be a string, got ${describeType(value)}`);
    }
    config[key] = value;
  }
  for (const key of NUMBER_OPTIONS) {
    const value = record[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw bad(
        key,
        `\`${key}\` must be a finite number, got ${describeType(value)}`
      );
    }
    config[key] = value;
  }
  for (const key of BOOLEAN_OPTIONS) {
    const value = record[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'boolean') {
      throw bad(
        key,
        `\`${key}\` must be a boolean, got ${describeType(value)}`
      );
    }
    config[key] = value;
  }
  return config;
}

function requireJwt(method: string, value: unknown): string {
  if (value === undefined || value === null || value === '') {
    throw invalidArgument(
      'empty_jwt',
      'externalJwt',
      `${method} needs \`externalJwt\`: the raw JWT from your auth provider`
    );
  }
  if (typeof value !== 'string') {
    throw invalidArgument(
      'malformed_jwt',
      'externalJwt',
      `\`externalJwt\` must be a string (the encoded JWT), got ${describeType(value)}`
    );
  }
  return value;
}

function requireParams(
  method: string,
  params: unknown
): Record<string, unknown> {
  if (typeof params !== 'object' || params === null) {
    throw invalidArgument(
      'empty_jwt',
      'externalJwt',
      `${method} needs a parameters object ({ externalJwt, ... }), got ${describeType(params)}`
    );
  }
  return params as Record<string, unknown>;
}

/** Parses a payload of the Rust bridge. */
function parsePayload<T>(text: unknown, what: string): T {
  if (typeof text === 'string') {
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null) return value as T;
    } catch {
      // Reported below.
    }
  }
  throw new DynamicError({
    code: 'internal',
    message: `the native module sent an unreadable ${what} (expected the Rust bridge's JSON)`,
    userInfo: { code: 'internal', category: 'bug', isRetryable: false },
  });
}

function userOf(state: AuthState): UserProfile | null {
  return state.status === 'signedIn' ? state.session.user : null;
}

function sameUser(a: UserProfile | null, b: UserProfile | null): boolean {
  if (a === null || b === null) return a === b;
  return JSON.stringify(a) === JSON.stringify(b);
}

type Listeners = { [E in AuthEventName]: Set<AuthEvents[E]> };

/** Calls an app's listener; one that throws must not stop the others (nor the client). */
function safely(run: () => void): void {
  try {
    run();
  } catch (error) {
    console.error('[dynamic-byoa] an auth listener threw:', error);
  }
}

/** The state shared by a client and its modules. */
class ClientCore {
  readonly native: Spec;
  readonly handle: Promise<number>;
  private handleValue: number | undefined;
  private subscription: EventSubscription | null;
  private disposed = false;
  state: AuthState = { status: 'restoring' };
  token: string | null = null;
  private readonly stateListeners = new Set<(state: AuthState) => void>();
  private readonly listeners: Listeners = {
    authSuccess: new Set(),
    authFailed: new Set(),
    loggedOut: new Set(),
    tokenChanged: new Set(),
    authenticatedUserChanged: new Set(),
  };

  constructor(options: DynamicClientOptions) {
    const config = nativeConfig(options);
    this.native = nativeModule();
    // Subscribe first, then ask for events: the module emits only after startAuthStateEvents.
    this.subscription = this.native.onAuthStateChanged((event) =>
      this.onNativeState(event)
    );
    this.handle = this.native.createClient(config).then(
      (handle) => {
        if (this.disposed) {
          this.native.disposeClient(handle);
          throw disposedError();
        }
        this.handleValue = handle;
        this.native.startAuthStateEvents(handle);
        return handle;
      },
      (error: unknown) => {
        throw toDynamicError(error);
      }
    );
    // Observed through `ready` and every call; never an unhandled rejection on its own.
    this.handle.catch(() => {});
  }

  /** Runs one native call for this client; every failure becomes a `DynamicError`. */
  async call<T>(run: (native: Spec, handle: number) => Promise<T>): Promise<T> {
    if (this.disposed) throw disposedError();
    const handle = await this.handle;
    try {
      return await run(this.native, handle);
    } catch (error) {
      throw toDynamicError(error);
    }
  }

  subscribeState(listener: (state: AuthState) => void): () => void {
    this.stateListeners.add(listener);
    return () => {
      this.stateListeners.delete(listener);
    };
  }

  on<E extends AuthEventName>(event: E, listener: AuthEvents[E]): () => void {
    const set = this.listeners[event] as Set<AuthEvents[E]> | undefined;
    if (set === undefined) {
      throw invalidArgument(
        'invalid_configuration',
        'event',
        `unknown auth event: ${String(event)} (authSuccess, authFailed, loggedOut, tokenChanged, authenticatedUserChanged)`
      );
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  off<E extends AuthEventName>(event: E, listener: AuthEvents[E]): void {
    (this.listeners[event] as Set<AuthEvents[E]> | undefined)?.delete(listener);
  }

  emit<E extends AuthEventName>(
    event: E,
    ...args: Parameters<AuthEvents[E]>
  ): void {
    for (const listener of [...this.listeners[event]]) {
      safely(() =>
        (listener as (...a: Parameters<AuthEvents[E]>) => void)(...args)
      );
    }
  }

  private onNativeState(event: NativeAuthStateEvent): void {
    if (this.disposed || event.handle !== this.handleValue) return;
    let next: AuthState;
    try {
      next = parsePayload<AuthState>(event.stateJson, 'auth state');
    } catch {
      return;
    }
    const previous = this.state;
    const previousToken = this.token;
    this.state = next;
    this.token = event.token ?? null;
    for (const listener of [...this.stateListeners]) {
      safely(() => listener(next));
    }
    const previousUser = userOf(previous);
    const nextUser = userOf(next);
    if (!sameUser(previousUser, nextUser)) {
      this.emit('authenticatedUserChanged', nextUser);
    }
    if (previousToken !== this.token) {
      this.emit('tokenChanged', this.token);
    }
    if (previous.status === 'signedIn' && next.status === 'signedOut') {
      this.emit('loggedOut', previousUser, next.reason);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.subscription?.remove();
    this.subscription = null;
    this.stateListeners.clear();
    for (const set of Object.values(this.listeners)) set.clear();
    if (this.handleValue !== undefined) {
      this.native.disposeClient(this.handleValue);
    }
  }
}

function disposedError(): DynamicError {
  return new DynamicError({
    code: 'invalid_configuration',
    message: 'this client was disposed; create a new one',
    userInfo: {
      code: 'invalid_configuration',
      category: 'misconfiguration',
      isRetryable: false,
      field: 'client',
    },
  });
}

/** `dynamicClient.auth.external`: sign-in with your own auth provider (Bring Your Own Auth). */
export class ExternalAuthModule {
  readonly #core: ClientCore;

  /** @internal */
  constructor(core: ClientCore) {
    this.#core = core;
  }

  /**
   * Exchanges your provider's JWT for a Dynamic session. Checked on the device first (shape,
   * algorithm, claims, time window, `sub` = `externalUserId`), then sent once. Resolves with the
   * signed-in user; rejects with a `DynamicError`. Emits `authSuccess` or `authFailed`.
   */
  async signInWithExternalJwt(
    params: SignInWithExternalJwtParams
  ): Promise<UserProfile> {
    const core = this.#core;
    const externalUserIdValue = (params as { externalUserId?: unknown } | null)
      ?.externalUserId;
    const failed = (error: DynamicError): DynamicError => {
      core.emit(
        'authFailed',
        {
          type: 'externalAuth',
          externalUserId:
            typeof externalUserIdValue === 'string' ? externalUserIdValue : '',
        },
        { error }
      );
      return error;
    };
    let externalJwt: string;
    let externalUserId: string;
    try {
      const record = requireParams('signInWithExternalJwt', params);
      externalJwt = requireJwt('signInWithExternalJwt', record.externalJwt);
      if (typeof record.externalUserId !== 'string') {
        throw invalidArgument(
          'external_user_id_mismatch',
          'externalUserId',
          `signInWithExternalJwt needs \`externalUserId\` (a string: your auth system's user id, the JWT's \`sub\`), got ${describeType(record.externalUserId)}`
        );
      }
      externalUserId = record.externalUserId;
    } catch (error) {
      throw failed(toDynamicError(error));
    }
    let session: Session;
    try {
      const json = await core.call((native, handle) =>
        native.signInWithExternalJwt(handle, externalJwt, externalUserId)
      );
      session = parsePayload<Session>(json, 'session');
    } catch (error) {
      throw failed(toDynamicError(error));
    }
    core.emit('authSuccess', session.user);
    return session.user;
  }

  /**
   * Step-up: the signed-in user proves again, with a fresh assertion from your provider, that
   * they are present. Resolves with what was granted; read the token with
   * `auth.getElevatedAccessToken({ scopes })`.
   */
  async verifyWithExternalJwt(
    params: VerifyWithExternalJwtParams
  ): Promise<ElevatedAccess> {
    const record = requireParams('verifyWithExternalJwt', params);
    const externalJwt = requireJwt('verifyWithExternalJwt', record.externalJwt);
    const json = await this.#core.call((native, handle) =>
      native.verifyWithExternalJwt(handle, externalJwt)
    );
    return parsePayload<ElevatedAccess>(json, 'elevated access');
  }
}

/** `dynamicClient.auth`: the session. */
export class AuthModule {
  readonly #core: ClientCore;
  /** Sign-in with your own auth provider. */
  readonly external: ExternalAuthModule;

  /** @internal */
  constructor(core: ClientCore) {
    this.#core = core;
    this.external = new ExternalAuthModule(core);
  }

  /** The last state the core reported (`restoring` until the first report). */
  get state(): AuthState {
    return this.#core.state;
  }

  /** The signed-in user, or null. */
  get authenticatedUser(): UserProfile | null {
    return userOf(this.#core.state);
  }

  /** The signed-in session (user and expiry), or null. */
  get session(): Session | null {
    const state = this.#core.state;
    return state.status === 'signedIn' ? state.session : null;
  }

  /**
   * The session's bearer token as last reported, or null. For a call to your backend prefer
   * `getAccessToken()`, which refreshes a token about to expire.
   */
  get token(): string | null {
    return this.#core.token;
  }

  /**
   * Settles the start-up restore (or reads the store again after `storageUnavailable`, e.g.
   * when the app becomes active) and resolves with the state.
   */
  async restore(): Promise<AuthState> {
    const json = await this.#core.call((native, handle) =>
      native.restore(handle)
    );
    return parsePayload<AuthState>(json, 'auth state');
  }

  /** Extends the session now; rarely needed (refresh is automatic). */
  async refresh(): Promise<Session> {
    const json = await this.#core.call((native, handle) =>
      native.refresh(handle)
    );
    return parsePayload<Session>(json, 'session');
  }

  /**
   * A bearer token valid for at least `minTtlSeconds` more (default 60, server clock),
   * refreshed first if needed. Signed out: rejects with `not_signed_in`.
   */
  async getAccessToken(options: GetAccessTokenOptions = {}): Promise<string> {
    if (typeof options !== 'object' || options === null) {
      throw invalidArgument(
        'invalid_configuration',
        'options',
        `getAccessToken takes an options object ({ minTtlSeconds, forceRefresh }), got ${describeType(options)}`
      );
    }
    const { minTtlSeconds, forceRefresh } = options as Record<string, unknown>;
    if (
      minTtlSeconds !== undefined &&
      minTtlSeconds !== null &&
      (typeof minTtlSeconds !== 'number' || !Number.isFinite(minTtlSeconds))
    ) {
      throw invalidArgument(
        'invalid_configuration',
        'minTtlSeconds',
        `\`minTtlSeconds\` must be a finite number, got ${describeType(minTtlSeconds)}`
      );
    }
    if (forceRefresh !== undefined && typeof forceRefresh !== 'boolean') {
      throw invalidArgument(
        'invalid_configuration',
        'forceRefresh',
        `\`forceRefresh\` must be a boolean, got ${describeType(forceRefresh)}`
      );
    }
    return this.#core.call((native, handle) =>
      native.getAccessToken(
        handle,
        typeof minTtlSeconds === 'number' ? minTtlSeconds : null,
        forceRefresh === true
      )
    );
  }

  /**
   * The elevated access token a step-up granted for every scope in `scopes`, if one is
   * unexpired (send it as `x-dyn-elevated-access-token`); a single-use one is handed out once.
   */
  async getElevatedAccessToken(options: {
    scopes: string[];
  }): Promise<string | null> {
    const scopes: unknown = (options as { scopes?: unknown } | null)?.scopes;
    if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string')) {
      throw invalidArgument(
        'invalid_configuration',
        'scopes',
        `getElevatedAccessToken needs \`scopes\`, an array of strings, got ${describeType(scopes)}`
      );
    }
    const result = await this.#core.call((native, handle) =>
      native.getElevatedAccessToken(handle, scopes as string[])
    );
    return result?.token ?? null;
  }

  /** Signs out: local at once (even offline), then revoked on the server, best effort. */
  async logout(): Promise<void> {
    await this.#core.call((native, handle) => native.logout(handle));
  }

  /**
   * Calls `listener` with every state change, in order, starting now with the current state.
   * Returns the unsubscribe function.
   */
  onAuthStateChanged(listener: (state: AuthState) => void): () => void {
    const unsubscribe = this.#core.subscribeState(listener);
    safely(() => listener(this.#core.state));
    return unsubscribe;
  }

  /** Dynamic's event names; returns the unsubscribe function. */
  on<E extends AuthEventName>(event: E, listener: AuthEvents[E]): () => void {
    return this.#core.on(event, listener);
  }

  off<E extends AuthEventName>(event: E, listener: AuthEvents[E]): void {
    this.#core.off(event, listener);
  }

  /** @internal For `useAuthState`: subscribe without the immediate call. */
  subscribeState(listener: (state: AuthState) => void): () => void {
    return this.#core.subscribeState(listener);
  }
}

/** A client for one Dynamic environment. Create one per environment and keep it. */
export class DynamicClient {
  readonly #core: ClientCore;
  readonly environmentId: string;
  readonly auth: AuthModule;
  /**
   * Resolves once the native client exists; rejects with the core's `invalid_configuration`
   * when the options are refused (every call rejects with it too).
   */
  readonly ready: Promise<void>;

  /** @internal Use `createDynamicClient`. */
  constructor(options: DynamicClientOptions) {
    this.#core = new ClientCore(options);
    this.environmentId = options.environmentId;
    this.auth = new AuthModule(this.#core);
    this.ready = this.#core.handle.then(() => undefined);
    this.ready.catch(() => {});
  }

  /** Stops this client's events and releases its native side. */
  dispose(): void {
    this.#core.dispose();
  }
}

/**
 * A client for `options.environmentId`; the options left out take the core's defaults. Throws a
 * `DynamicError` at once for a missing or wrongly typed option or a missing native module; the
 * core's own checks (UUID, URL, ranges) reject `ready` and every call.
 */
export function createDynamicClient(
  options: DynamicClientOptions
): DynamicClient {
  return new DynamicClient(options);
}
