/**
 * One error class for every rejection: `DynamicError`, with the Rust core's `code`, `category`,
 * `isRetryable` and the variant's fields, from `bridge_rejection` (forwarded by the native
 * module as `reject(code, message, userInfo)`).
 */
import type { StoreFailure } from './types';
import {
  RUST_ERROR_CODES,
  type RustErrorCode,
} from './generated/rustErrorCodes';

/** Every code the core rejects with: exactly the Rust list (`dynamic_byoa::ERROR_CODES`). */
export type DynamicErrorCode = RustErrorCode;

/** Every code, in the core's order. */
export const ERROR_CODES: readonly DynamicErrorCode[] = RUST_ERROR_CODES;

/** What the app does about an error (the core decides; see the table in react-native/README.md). */
export type ErrorCategory =
  | 'invalid_input'
  | 'rejected'
  | 'sign_in_again'
  | 'retry_later'
  | 'network'
  | 'superseded'
  | 'misconfiguration'
  | 'bug';

const CATEGORIES: readonly ErrorCategory[] = [
  'invalid_input',
  'rejected',
  'sign_in_again',
  'retry_later',
  'network',
  'superseded',
  'misconfiguration',
  'bug',
];

/** Why Dynamic refused an external JWT (`external_auth_rejected`). */
export type RejectionReason =
  | 'issuer'
  | 'audience'
  | 'expired'
  | 'not_yet_valid'
  | 'signature'
  | 'unknown_key'
  | 'jwks_unavailable'
  | 'missing_claim'
  | 'unsupported_algorithm'
  | 'malformed'
  | 'disabled'
  | 'replayed'
  | 'subject_mismatch'
  | 'unknown';

/** Why Dynamic refused a device signature (`device_signature_rejected`). */
export type DeviceSignatureReason =
  | 'missing_headers'
  | 'unknown_nonce'
  | 'reused_nonce'
  | 'expired_nonce'
  | 'invalid_public_key'
  | 'invalid_signature'
  | 'key_mismatch'
  | 'unknown';

export type NetworkErrorKind = 'connect' | 'timeout' | 'tls' | 'other';

/** The variant's fields, camelCase, as the core sends them; each present only where it applies. */
export type DynamicErrorDetails = {
  detail?: string;
  segment?: string;
  size?: number;
  limit?: number;
  alg?: string;
  claim?: string;
  expected?: string;
  expiredAtMs?: number;
  nowMs?: number;
  leewaySeconds?: number;
  validFromMs?: number;
  jwtSub?: string;
  externalUserId?: string;
  reason?: RejectionReason | DeviceSignatureReason;
  serverDetail?: string;
  retryAfterSeconds?: number | null;
  environmentId?: string;
  status?: number;
  serverCode?: string | null;
  kind?: NetworkErrorKind;
  field?: string;
  cause?: StoreFailure;
};

/**
 * What each code means. Keyed by every Rust code: a code added in Rust (and so in the generated
 * `RustErrorCode`) fails the TypeScript build until it is described here.
 */
export const ERROR_CODE_DESCRIPTIONS: {
  readonly [C in DynamicErrorCode]: string;
} = {
  empty_jwt: 'The external JWT is empty; nothing was sent.',
  malformed_jwt: 'The external JWT is not three base64url segments.',
  jwt_not_json: 'The JWT header or payload is not a JSON object.',
  jwt_too_large: 'The external JWT is over 16 KiB.',
  unsupported_algorithm:
    'The JWT algorithm is missing, `none`, or not RS*/PS*/ES*/EdDSA.',
  missing_claim: 'A required claim (`iss`, `sub`, `exp`) is missing.',
  invalid_claim: 'A claim has the wrong type or value.',
  jwt_expired: 'The external JWT expired (beyond the clock leeway).',
  jwt_not_yet_valid: 'The external JWT is not valid yet (`nbf`/`iat`).',
  external_user_id_mismatch: 'The JWT `sub` is not the `externalUserId`.',
  invalid_session_public_key: 'The session public key is not compressed P-256.',
  external_auth_rejected:
    'Dynamic refused the external JWT; `reason` says why (issuer, audience, signature, ...).',
  rate_limited: 'Dynamic rate-limited the call; see `retryAfterSeconds`.',
  sandbox_limit_reached: "The sandbox environment's user limit is reached.",
  unauthorized: 'Dynamic does not accept the session any more: sign in again.',
  environment_not_found: 'Dynamic does not know this environment id.',
  request_rejected: 'Dynamic refused the request (another 4xx).',
  server_error: 'Dynamic had a server error; retry later.',
  device_signature_rejected:
    'Dynamic refused the device signature; `reason` says why.',
  device_nonce_unavailable:
    'A device signature is required and none could be made; retry later.',
  session_key_mismatch:
    "Dynamic's token is not bound to the session key this client sent.",
  key_unavailable: 'The device key store failed; see `cause`.',
  sign_in_superseded: 'A later sign-in finished first; this one was discarded.',
  sign_in_cancelled: 'A sign-out started while this sign-in was in flight.',
  not_signed_in: 'The call needs a session and there is none.',
  session_changed: 'The session ended or was replaced while the call ran.',
  storage_unavailable:
    'The secure store cannot be read yet; call `auth.restore()` when it can.',
  network:
    'The request did not complete; `kind` says how (connect, timeout, tls, other).',
  invalid_response: 'Dynamic (or a proxy) answered with something unexpected.',
  invalid_configuration: 'A client option is wrong; `field` names it.',
  internal:
    'A bug in this library, or a code this version does not know (`nativeCode`).',
};

const KNOWN_CODES: ReadonlySet<string> = new Set(RUST_ERROR_CODES);

/** Fields of `userInfo` that are not the variant's own. */
const ENVELOPE_KEYS = new Set(['code', 'category', 'isRetryable']);

type Init = {
  code: string;
  message: string;
  userInfo?: Record<string, unknown> | null;
  cause?: unknown;
};

/**
 * Every rejection of this package. `code` is one of the core's codes; an unknown one (a native
 * module newer than this JavaScript) reads as `internal`, with the received text in
 * `nativeCode` and the core's category kept when it was sent.
 */
export class DynamicError extends Error {
  override readonly name = 'DynamicError';
  readonly code: DynamicErrorCode;
  /** The code exactly as received; differs from `code` only for an unknown code. */
  readonly nativeCode: string;
  readonly category: ErrorCategory;
  readonly isRetryable: boolean;
  /** The variant's fields (see `DynamicErrorDetails`). */
  readonly details: DynamicErrorDetails;
  /** `external_auth_rejected` / `device_signature_rejected`: why. */
  readonly reason: RejectionReason | DeviceSignatureReason | undefined;
  /** `rate_limited`: from `Retry-After`, or null when Dynamic sent none. */
  readonly retryAfterSeconds: number | null | undefined;
  /** Dynamic's own text (redacted by the core), where it answered. */
  readonly serverDetail: string | undefined;
  /** The `userInfo` object as the native module sent it. */
  readonly userInfo: Readonly<Record<string, unknown>>;

  constructor(init: Init) {
    super(init.message);
    Object.setPrototypeOf(this, new.target.prototype);
    const userInfo = init.userInfo ?? {};
    const known = KNOWN_CODES.has(init.code);
    this.code = known ? (init.code as DynamicErrorCode) : 'internal';
    this.nativeCode = init.code;
    const category = userInfo.category;
    this.category = isCategory(category) ? category : 'bug';
    this.isRetryable =
      typeof userInfo.isRetryable === 'boolean'
        ? userInfo.isRetryable
        : this.category === 'retry_later' || this.category === 'network';
    const details: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(userInfo)) {
      if (!ENVELOPE_KEYS.has(key)) details[key] = value;
    }
    this.details = details as DynamicErrorDetails;
    this.reason = this.details.reason;
    this.retryAfterSeconds = this.details.retryAfterSeconds;
    this.serverDetail = this.details.serverDetail;
    this.userInfo = userInfo;
    if (init.cause !== undefined) {
      Object.defineProperty(this, 'cause', {
        value: init.cause,
        enumerable: false,
        configurable: true,
        writable: true,
      });
    }
  }
}

function isCategory(value: unknown): value is ErrorCategory {
  return (
    typeof value === 'string' &&
    (CATEGORIES as readonly string[]).includes(value)
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseUserInfo(value: unknown): Record<string, unknown> | null {
  if (isRecord(value)) return value;
  if (typeof value === 'string') {
    try {
      const parsed: unknown = JSON.parse(value);
      return isRecord(parsed) ? parsed : null;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Turns whatever a native call rejected with into a `DynamicError`. Both platforms' shapes:
 * iOS copies `code`, `message`, `domain`, `userInfo`, `nativeStackIOS`; Android copies `code`,
 * `message`, `userInfo` and, when a Throwable was passed, `name` (its class name) and
 * `nativeStackAndroid`. Only `code`, `message` and `userInfo` are read; the rest stays on `cause`.
 */
export function toDynamicError(error: unknown): DynamicError {
  if (error instanceof DynamicError) return error;
  if (isRecord(error) || error instanceof Error) {
    const record = error as Record<string, unknown>;
    const userInfo = parseUserInfo(record.userInfo);
    const code =
      typeof record.code === 'string'
        ? record.code
        : typeof userInfo?.code === 'string'
          ? userInfo.code
          : undefined;
    const message =
      typeof record.message === 'string' && record.message.length > 0
        ? record.message
        : String(code ?? 'unknown error');
    if (code !== undefined) {
      return new DynamicError({ code, message, userInfo, cause: error });
    }
    return new DynamicError({
      code: 'internal',
      message: `unexpected error from the native module: ${message}`,
      userInfo: { category: 'bug', isRetryable: false },
      cause: error,
    });
  }
  return new DynamicError({
    code: 'internal',
    message: `unexpected error from the native module: ${String(error)}`,
    userInfo: { category: 'bug', isRetryable: false },
    cause: error,
  });
}

/** An argument refused before crossing the bridge; never quotes the value (it may be a JWT). */
export function invalidArgument(
  code:
    | 'empty_jwt'
    | 'malformed_jwt'
    | 'external_user_id_mismatch'
    | 'invalid_configuration',
  field: string,
  message: string
): DynamicError {
  const category: ErrorCategory =
    code === 'invalid_configuration' ? 'misconfiguration' : 'invalid_input';
  return new DynamicError({
    code,
    message,
    userInfo: { code, category, isRetryable: false, field },
  });
}

/** `typeof`, with `null` and arrays named as such, for messages. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
