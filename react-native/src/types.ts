/**
 * The public types. The shapes are the Rust bridge's (`dynamic_byoa::bridge`), parsed from the
 * JSON the native modules forward; nothing here is computed in JavaScript.
 */
import type { DynamicError } from './errors';

/**
 * `format` of a verified credential: Dynamic's wire value. Values this version does not know
 * are kept as they came, hence the open string.
 */
export type CredentialFormat =
  | 'blockchain'
  | 'email'
  | 'oauth'
  | 'passkey'
  | 'phoneNumber'
  | 'externalUser'
  | 'totp'
  | (string & {});

/** One way the user has proven who they are. */
export type VerifiedCredential = {
  id: string;
  format: CredentialFormat;
  /** The external `sub` for `externalUser`, an address for `blockchain`, ... */
  publicIdentifier: string | null;
  email: string | null;
  address: string | null;
  chain: string | null;
  signInEnabled: boolean;
};

/** The user Dynamic signed in. Every field is safe to log (no token). */
export type UserProfile = {
  /** Dynamic's user id (stable for one external `sub`). */
  userId: string;
  environmentId: string;
  /** Dynamic's id of this session. */
  sessionId: string | null;
  /** The external JWT's `sub`. */
  externalUserId: string | null;
  email: string | null;
  username: string | null;
  firstName: string | null;
  lastName: string | null;
  phoneNumber: string | null;
  /** True on the first sign-in of this user in this environment. */
  newUser: boolean;
  /** Scopes of the session, e.g. `user:basic`. */
  scopes: string[];
  lastVerifiedCredentialId: string | null;
  verifiedCredentials: VerifiedCredential[];
};

/** Who is signed in and until when (Dynamic's `expiresAt`, server time, epoch milliseconds). */
export type Session = {
  user: UserProfile;
  expiresAtMs: number;
};

/** Why a session ended; `null` when there was none (never signed in). */
export type SignOutReason =
  | 'user_intent'
  | 'expired'
  | 'refresh_unauthorized'
  | 'revoked'
  | 'replaced'
  | 'storage_corrupt'
  | 'fresh_install';

/** Why the secure store (or a key) could not be used. */
export type StoreFailure = {
  kind: 'unavailable' | 'not_found' | 'failed';
  detail: string;
};

/**
 * Where the session stands; the same four states on iOS, Android and here.
 * - `restoring`: reading the stored session right after start. Not signed out: wait.
 * - `signedOut`: no session; `reason` says how the last one ended.
 * - `signedIn`: until `session.expiresAtMs`, refreshed ahead of it.
 * - `storageUnavailable`: the keychain is locked (the stored session is kept): call
 *   `auth.restore()` again when the app becomes active. Not signed out.
 */
export type AuthState =
  | { status: 'restoring' }
  | { status: 'signedOut'; reason: SignOutReason | null }
  | { status: 'signedIn'; session: Session }
  | { status: 'storageUnavailable'; error: StoreFailure };

export type AuthStatus = AuthState['status'];

/** What a step-up granted; read the token itself with `auth.getElevatedAccessToken`. */
export type ElevatedAccess = {
  scopes: string[];
  expiresAtMs: number;
  singleUse: boolean;
};

/** `createDynamicClient`'s options; everything but `environmentId` defaults in Rust. */
export type DynamicClientOptions = {
  /** The environment id from Dynamic's dashboard (a lowercase UUID). */
  environmentId: string;
  /** Default `https://app.dynamicauth.com/api/v0`; `http://` only for loopback (the emulator). */
  apiBaseUrl?: string;
  /** Sent as `Origin` (Dynamic puts it in the session token's `aud`). */
  appOrigin?: string;
  /** Overall time for one call, retries included (1 to 120000); default 15000. */
  requestTimeoutMs?: number;
  /** Clock tolerance of the device checks (0 to 3600); default 60. */
  clockLeewaySeconds?: number;
  /** Refresh the session before it expires; default true. */
  autoRefresh?: boolean;
  /** How long before expiry to refresh; default 300. */
  refreshMarginSeconds?: number;
  /** Bind each session to a device key; default true. */
  bindSessionKey?: boolean;
};

export type SignInWithExternalJwtParams = {
  /** The raw encoded JWT issued by your authentication provider. */
  externalJwt: string;
  /** The user id in your authentication system; must equal the JWT's `sub`. */
  externalUserId: string;
};

export type VerifyWithExternalJwtParams = {
  /** A fresh assertion from your provider: `sub` = the signed-in user, `scope`, `jti`, `exp`. */
  externalJwt: string;
};

export type GetAccessTokenOptions = {
  /** The token must stay valid this long (server clock), or it is refreshed first; default 60. */
  minTtlSeconds?: number;
  /** Refresh even if the token is fresh enough. */
  forceRefresh?: boolean;
};

/** `authFailed`'s first argument, as Dynamic's React Native client sends it. */
export type AuthEventPayload = {
  type: 'externalAuth';
  externalUserId: string;
};

/** The events of `auth.on(...)`, named as Dynamic's React Native client names them. */
export type AuthEvents = {
  /** A `signInWithExternalJwt` of this client succeeded. */
  authSuccess: (user: UserProfile) => void;
  /** A `signInWithExternalJwt` of this client failed. */
  authFailed: (data: AuthEventPayload, reason: { error: DynamicError }) => void;
  /** A session ended (any reason); `user` is who was signed in. */
  loggedOut: (user: UserProfile | null, reason: SignOutReason | null) => void;
  /** The bearer token changed (sign-in, refresh, sign-out: `null`). */
  tokenChanged: (token: string | null) => void;
  /** The signed-in user changed (sign-in, another user, sign-out: `null`). */
  authenticatedUserChanged: (user: UserProfile | null) => void;
};

export type AuthEventName = keyof AuthEvents;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** One of the core's log lines. Redacted by the core: never a token or a piece of one. */
export type LogLine = {
  level: LogLevel;
  /** `dynamic_byoa::http`, `::state`, `::session`, `::storage`, `::events`, `::binding`. */
  target: string;
  message: string;
};
