//! Errors: the stable public enum every platform sees, and the internal detail it is built from.
//!
//! Internal errors (`Error`) keep the transport's and serde's detail for logs and tests; they
//! never cross the FFI. `ByoaError` is produced from them in exactly one place (`From<Error> for
//! ByoaError` and the helpers it calls; the other `From` impls go through it), its variants are
//! named for what the caller should do, and every variant has a stable snake_case code
//! (`ByoaError::code`). No variant carries a token: server texts are scrubbed of anything
//! that looks like a JWT before they are stored (`redact::scrub`).
//!
//! The error types of the ports (`StorageError`, `KeySignerError`, `HttpError`) are defined with
//! their ports; every other error type of the crate is defined here, so that this module imports
//! no feature module. May import: `ports`, `support`.

use dynamic_byoa_contract::{
    ApiErrorBody, CODE_INVALID_DEVICE_SIGNATURE, CODE_INVALID_EXTERNAL_AUTH,
    CODE_INVALID_SESSION_PUBLIC_KEY, CODE_SANDBOX_MAXIMUM_THRESHOLD_REACHED,
    DeviceSignatureRejection, ExternalAuthRejection,
};

use crate::ports::http::HttpError;
use crate::ports::key_signer::KeySignerError;
use crate::ports::storage::StorageError;
use crate::support::redact::scrub;
use crate::support::time::{epoch_ms, rfc3339};

/// Every failure of the public API. One enum shared by Swift, Kotlin and TypeScript; match on the
/// variant, or on `code()` for a stable string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum ByoaError {
    // --- Preflight: the external JWT or the call's parameters are wrong; nothing was sent. ---
    #[error("the external JWT is empty")]
    EmptyJwt,
    #[error("the external JWT is not three base64url segments: {detail}")]
    MalformedJwt { detail: String },
    #[error("the external JWT {segment} is not a JSON object")]
    JwtNotJson { segment: String },
    #[error("the external JWT is {size} bytes; the limit is {limit}")]
    JwtTooLarge { size: i64, limit: i64 },
    #[error(
        "the external JWT algorithm `{alg}` is not an asymmetric algorithm Dynamic can verify (RS*, PS*, ES*, EdDSA)"
    )]
    UnsupportedAlgorithm { alg: String },
    #[error("the external JWT has no `{claim}` claim")]
    MissingClaim { claim: String },
    #[error("the external JWT claim `{claim}` must be {expected}")]
    InvalidClaim { claim: String, expected: String },
    #[error(
        "the external JWT expired at {} (now {}, leeway {leeway_seconds} s)",
        rfc3339(*expired_at_ms),
        rfc3339(*now_ms)
    )]
    JwtExpired {
        expired_at_ms: i64,
        now_ms: i64,
        leeway_seconds: i64,
    },
    #[error(
        "the external JWT is not valid until {} (`{claim}`; now {}, leeway {leeway_seconds} s)",
        rfc3339(*valid_from_ms),
        rfc3339(*now_ms)
    )]
    JwtNotYetValid {
        claim: String,
        valid_from_ms: i64,
        now_ms: i64,
        leeway_seconds: i64,
    },
    #[error("the external JWT `sub` ({jwt_sub}) is not the externalUserId ({external_user_id})")]
    ExternalUserIdMismatch {
        jwt_sub: String,
        external_user_id: String,
    },
    #[error(
        "the session public key must be a compressed P-256 key: 66 hex characters starting with 02 or 03"
    )]
    InvalidSessionPublicKey,

    // --- Dynamic answered and said no. ---
    #[error("Dynamic rejected the external JWT ({reason}): {server_detail}")]
    ExternalAuthRejected {
        reason: RejectionReason,
        server_detail: String,
    },
    #[error("rate limited by Dynamic; {}", retry_hint(*retry_after_seconds))]
    RateLimited { retry_after_seconds: Option<i64> },
    #[error("the environment's sandbox user limit is reached: {server_detail}")]
    SandboxLimitReached { server_detail: String },
    #[error("unauthorized: {server_detail}")]
    Unauthorized { server_detail: String },
    #[error("environment {environment_id} was not found")]
    EnvironmentNotFound { environment_id: String },
    #[error(
        "Dynamic refused the request (HTTP {status}{}): {server_detail}",
        code_part(code.as_deref())
    )]
    RequestRejected {
        status: i32,
        code: Option<String>,
        server_detail: String,
    },
    #[error("Dynamic had a server error (HTTP {status}): {server_detail}")]
    ServerError { status: i32, server_detail: String },

    // --- Device binding (see `device`). ---
    #[error("Dynamic refused the device signature ({reason}): {server_detail}")]
    DeviceSignatureRejected {
        reason: DeviceSignatureReason,
        server_detail: String,
    },
    #[error(
        "the environment requires a device signature and none could be made ({detail}); retry later"
    )]
    DeviceNonceUnavailable { detail: String },
    #[error("Dynamic's session token is not bound to the session key this client sent")]
    SessionKeyMismatch,
    #[error("the key signer failed ({error})")]
    KeyUnavailable { error: KeySignerError },

    #[error("a sign-in started later finished first; this one was discarded")]
    SignInSuperseded,
    #[error("a sign-out started while this sign-in was in flight; its session was discarded")]
    SignInCancelled,

    // --- The call needs a session. ---
    #[error("not signed in")]
    NotSignedIn,
    #[error(
        "the session ended or was replaced while this call was in flight; its result was discarded"
    )]
    SessionChanged,
    #[error("the session store cannot be read yet ({error}); call auth().restore() when it can")]
    StorageUnavailable { error: StorageError },

    // --- The exchange could not be completed. ---
    #[error("network error ({kind}): {detail}")]
    Network {
        kind: NetworkErrorKind,
        detail: String,
    },
    #[error("unexpected response (HTTP {status}): {detail}")]
    InvalidResponse { status: i32, detail: String },
    #[error("invalid configuration `{field}`: {detail}")]
    InvalidConfiguration { field: String, detail: String },
    #[error("internal error: {detail}")]
    Internal { detail: String },
}

#[uniffi::export]
impl ByoaError {
    /// The stable snake_case code of this error, identical on every platform.
    pub fn code(&self) -> String {
        self.code_str().to_owned()
    }

    /// What the app should do about this error, for a `when`/`switch` that need not list every
    /// variant. Each code's category is part of the contract (tested in `category_of_every_code`);
    /// `key_unavailable` and `storage_unavailable` are `RetryLater` when the store or key is
    /// only locked (`Unavailable`), else `SignInAgain`.
    pub fn category(&self) -> ErrorCategory {
        use ErrorCategory as C;
        match self {
            Self::EmptyJwt
            | Self::MalformedJwt { .. }
            | Self::JwtNotJson { .. }
            | Self::JwtTooLarge { .. }
            | Self::UnsupportedAlgorithm { .. }
            | Self::MissingClaim { .. }
            | Self::InvalidClaim { .. }
            | Self::JwtExpired { .. }
            | Self::JwtNotYetValid { .. }
            | Self::ExternalUserIdMismatch { .. }
            | Self::InvalidSessionPublicKey => C::InvalidInput,
            Self::ExternalAuthRejected { .. } | Self::DeviceSignatureRejected { .. } => C::Rejected,
            Self::Unauthorized { .. } | Self::NotSignedIn => C::SignInAgain,
            // A locked keychain or keystore comes back; a key or entry that is gone or broken
            // does not: a new sign-in writes a new one.
            Self::KeyUnavailable {
                error: KeySignerError::Unavailable { .. },
            }
            | Self::StorageUnavailable {
                error: StorageError::Unavailable { .. },
            } => C::RetryLater,
            Self::KeyUnavailable { .. } | Self::StorageUnavailable { .. } => C::SignInAgain,
            Self::RateLimited { .. }
            | Self::ServerError { .. }
            | Self::DeviceNonceUnavailable { .. } => C::RetryLater,
            Self::Network { .. } => C::Network,
            Self::SignInSuperseded | Self::SignInCancelled | Self::SessionChanged => C::Superseded,
            Self::SandboxLimitReached { .. }
            | Self::EnvironmentNotFound { .. }
            | Self::RequestRejected { .. }
            | Self::SessionKeyMismatch
            | Self::InvalidResponse { .. }
            | Self::InvalidConfiguration { .. } => C::Misconfiguration,
            Self::Internal { .. } => C::Bug,
        }
    }

    /// True when the same call, made again later, may succeed without anything else changing:
    /// the `RetryLater` and `Network` categories.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.category(),
            ErrorCategory::RetryLater | ErrorCategory::Network
        )
    }
}

/// The `RateLimited` text's advice: the server's delay when it gave one (users read this text;
/// Rust's `Some(30)` must not reach them).
fn retry_hint(retry_after_seconds: Option<i64>) -> String {
    match retry_after_seconds {
        Some(seconds) => format!("retry after {seconds} s"),
        None => "retry later".to_owned(),
    }
}

/// The `RequestRejected` text's code part: `, code <code>`, or nothing when the body had none.
fn code_part(code: Option<&str>) -> String {
    code.map(|code| format!(", code {code}"))
        .unwrap_or_default()
}

/// What an app does about an error; see `ByoaError::category`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ErrorCategory {
    /// The external JWT or a parameter is wrong; nothing was sent. Fix it (or get a fresh JWT
    /// from the provider) and call again.
    InvalidInput,
    /// Dynamic checked the credentials and refused them; the reason says why (the JWT's
    /// issuer, audience, signature, ... or the device signature). Not worth retrying as is.
    Rejected,
    /// There is no session Dynamic accepts: sign the user in again.
    SignInAgain,
    /// A temporary condition on Dynamic's side or the device's (rate limit, server error,
    /// keychain locked): retry later; the session, if any, is kept.
    RetryLater,
    /// The request did not complete (offline, timeout, TLS): retry when the network is back.
    Network,
    /// Another call of the app's decided the outcome (a later sign-in, a sign-out): nothing to do.
    Superseded,
    /// The environment or the client is set up wrong (config, dashboard settings, base URL or
    /// a proxy answering in Dynamic's place): a developer must fix it.
    Misconfiguration,
    /// A bug in this library: report it.
    Bug,
}

/// Every `ByoaError::code`, in declaration order: what the platform layers check their own code
/// lists against (the TypeScript union, for one), so a new code fails their build until mapped.
/// Kept equal to the enum by `error_codes_lists_every_code`.
pub const ERROR_CODES: &[&str] = &[
    "empty_jwt",
    "malformed_jwt",
    "jwt_not_json",
    "jwt_too_large",
    "unsupported_algorithm",
    "missing_claim",
    "invalid_claim",
    "jwt_expired",
    "jwt_not_yet_valid",
    "external_user_id_mismatch",
    "invalid_session_public_key",
    "external_auth_rejected",
    "rate_limited",
    "sandbox_limit_reached",
    "unauthorized",
    "environment_not_found",
    "request_rejected",
    "server_error",
    "device_signature_rejected",
    "device_nonce_unavailable",
    "session_key_mismatch",
    "key_unavailable",
    "sign_in_superseded",
    "sign_in_cancelled",
    "not_signed_in",
    "session_changed",
    "storage_unavailable",
    "network",
    "invalid_response",
    "invalid_configuration",
    "internal",
];

impl ErrorCategory {
    /// The category's stable snake_case name, as the bridge payloads carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::Rejected => "rejected",
            Self::SignInAgain => "sign_in_again",
            Self::RetryLater => "retry_later",
            Self::Network => "network",
            Self::Superseded => "superseded",
            Self::Misconfiguration => "misconfiguration",
            Self::Bug => "bug",
        }
    }
}

impl ByoaError {
    pub fn code_str(&self) -> &'static str {
        match self {
            Self::EmptyJwt => "empty_jwt",
            Self::MalformedJwt { .. } => "malformed_jwt",
            Self::JwtNotJson { .. } => "jwt_not_json",
            Self::JwtTooLarge { .. } => "jwt_too_large",
            Self::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            Self::MissingClaim { .. } => "missing_claim",
            Self::InvalidClaim { .. } => "invalid_claim",
            Self::JwtExpired { .. } => "jwt_expired",
            Self::JwtNotYetValid { .. } => "jwt_not_yet_valid",
            Self::ExternalUserIdMismatch { .. } => "external_user_id_mismatch",
            Self::InvalidSessionPublicKey => "invalid_session_public_key",
            Self::ExternalAuthRejected { .. } => "external_auth_rejected",
            Self::RateLimited { .. } => "rate_limited",
            Self::SandboxLimitReached { .. } => "sandbox_limit_reached",
            Self::Unauthorized { .. } => "unauthorized",
            Self::EnvironmentNotFound { .. } => "environment_not_found",
            Self::RequestRejected { .. } => "request_rejected",
            Self::ServerError { .. } => "server_error",
            Self::DeviceSignatureRejected { .. } => "device_signature_rejected",
            Self::DeviceNonceUnavailable { .. } => "device_nonce_unavailable",
            Self::SessionKeyMismatch => "session_key_mismatch",
            Self::KeyUnavailable { .. } => "key_unavailable",
            Self::SignInSuperseded => "sign_in_superseded",
            Self::SignInCancelled => "sign_in_cancelled",
            Self::NotSignedIn => "not_signed_in",
            Self::SessionChanged => "session_changed",
            Self::StorageUnavailable { .. } => "storage_unavailable",
            Self::Network { .. } => "network",
            Self::InvalidResponse { .. } => "invalid_response",
            Self::InvalidConfiguration { .. } => "invalid_configuration",
            Self::Internal { .. } => "internal",
        }
    }
}

/// Why Dynamic refused an external JWT, read from its message (free text on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    Issuer,
    Audience,
    Expired,
    NotYetValid,
    Signature,
    UnknownKey,
    JwksUnavailable,
    MissingClaim,
    UnsupportedAlgorithm,
    Malformed,
    Disabled,
    /// Step-up: the assertion's `jti` was used before (each assertion is good for one step-up).
    Replayed,
    /// Step-up: the assertion's `sub` is not the signed-in external user.
    SubjectMismatch,
    /// The message named nothing recognisable; `server_detail` has the text.
    Unknown,
}

impl std::fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&snake_case_name(self))
    }
}

impl From<Option<ExternalAuthRejection>> for RejectionReason {
    fn from(reason: Option<ExternalAuthRejection>) -> Self {
        use ExternalAuthRejection as R;
        match reason {
            Some(R::Issuer) => Self::Issuer,
            Some(R::Audience) => Self::Audience,
            Some(R::Expired) => Self::Expired,
            Some(R::NotYetValid) => Self::NotYetValid,
            Some(R::Signature) => Self::Signature,
            Some(R::UnknownKey) => Self::UnknownKey,
            Some(R::JwksUnavailable) => Self::JwksUnavailable,
            Some(R::MissingClaim) => Self::MissingClaim,
            Some(R::UnsupportedAlgorithm) => Self::UnsupportedAlgorithm,
            Some(R::Malformed) => Self::Malformed,
            Some(R::Disabled) => Self::Disabled,
            Some(R::Replayed) => Self::Replayed,
            Some(R::SubjectMismatch) => Self::SubjectMismatch,
            None => Self::Unknown,
        }
    }
}

/// Why Dynamic refused a device signature (`device_signature_rejected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceSignatureReason {
    /// The request carried no (or incomplete) device headers and the environment requires them.
    MissingHeaders,
    /// The nonce was not issued by Dynamic for this environment.
    UnknownNonce,
    /// The nonce was already used (a replayed request).
    ReusedNonce,
    /// The nonce expired before it was used.
    ExpiredNonce,
    /// The device public key is not a compressed P-256 key.
    InvalidPublicKey,
    /// The signature does not verify under the device public key.
    InvalidSignature,
    /// The signature is valid but by another device than the one that signed the session in.
    KeyMismatch,
    /// The server's text named nothing recognisable; `server_detail` has it.
    Unknown,
}

impl std::fmt::Display for DeviceSignatureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&snake_case_name(self))
    }
}

impl From<Option<DeviceSignatureRejection>> for DeviceSignatureReason {
    fn from(reason: Option<DeviceSignatureRejection>) -> Self {
        use DeviceSignatureRejection as R;
        match reason {
            Some(R::MissingHeaders) => Self::MissingHeaders,
            Some(R::UnknownNonce) => Self::UnknownNonce,
            Some(R::ReusedNonce) => Self::ReusedNonce,
            Some(R::ExpiredNonce) => Self::ExpiredNonce,
            Some(R::InvalidPublicKey) => Self::InvalidPublicKey,
            Some(R::InvalidSignature) => Self::InvalidSignature,
            Some(R::KeyMismatch) => Self::KeyMismatch,
            None => Self::Unknown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkErrorKind {
    /// No connection could be made (DNS, refused, unreachable, or the connection attempt timed
    /// out: the server never saw the request).
    Connect,
    /// The overall request timeout ran out.
    Timeout,
    /// TLS handshake or certificate failure.
    Tls,
    /// The connection broke mid-request.
    Other,
}

impl std::fmt::Display for NetworkErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&snake_case_name(self))
    }
}

/// A reason's stable snake_case name, the form the bridge payloads, `byoa check` and the error
/// texts carry: serde's `rename_all = "snake_case"` over the variant names, so the enum itself is
/// the one definition of its codes (no hand-written table to drift from it).
fn snake_case_name(reason: &impl serde::Serialize) -> String {
    match serde_json::to_value(reason) {
        Ok(serde_json::Value::String(name)) => name,
        _ => "unknown".to_owned(), // unit variants always serialize to a string
    }
}

/// A preflight failure. Each has its own public error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreflightError {
    #[error("empty JWT")]
    Empty,
    #[error("{size} bytes is over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("not three base64url segments: {detail}")]
    Malformed { detail: String },
    #[error("{segment} is not a JSON object")]
    NotJson { segment: &'static str },
    #[error("algorithm {alg:?} is not asymmetric")]
    UnsupportedAlgorithm { alg: Option<String> },
    #[error("missing claim {claim}")]
    MissingClaim { claim: &'static str },
    #[error("claim {claim} must be {expected}")]
    InvalidClaim {
        claim: &'static str,
        expected: &'static str,
    },
    #[error("expired at {exp}")]
    Expired { exp: i64, now: i64, leeway: u64 },
    #[error("{claim} {at} is in the future")]
    NotYetValid {
        claim: &'static str,
        at: i64,
        now: i64,
        leeway: u64,
    },
    #[error("sub does not match externalUserId")]
    SubjectMismatch {
        sub: String,
        external_user_id: String,
    },
    #[error("invalid session public key")]
    InvalidSessionPublicKey,
}

impl PreflightError {
    /// True for a failure that depends on the current time (and so on the device's clock).
    pub fn is_time_window(&self) -> bool {
        matches!(self, Self::Expired { .. } | Self::NotYetValid { .. })
    }
}

/// Internal errors, with the detail the public enum leaves out. `Clone` so that callers who
/// share one request (`SingleFlight`) share its error in this form too: there is no second,
/// already-public form to check.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum Error {
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    #[error("HTTP {status}")]
    Http {
        status: u16,
        /// Boxed: error bodies are rare and large, results are common.
        body: Option<Box<ApiErrorBody>>,
        retry_after_seconds: Option<u64>,
        environment_id: String,
    },
    #[error("transport: {0}")]
    Transport(HttpError),
    #[error("overall request timeout elapsed")]
    Deadline,
    /// `detail` is serde's message, which may quote the body: scrubbed when mapped.
    #[error("undecodable response (HTTP {status}): {detail}")]
    Decode { status: u16, detail: String },
    #[error("incomplete response (HTTP {status}): {detail}")]
    Incomplete { status: u16, detail: &'static str },
    #[error("invalid configuration `{field}`: {detail}")]
    Config { field: &'static str, detail: String },
    #[error("superseded by a later sign-in")]
    Superseded,
    #[error("cancelled by a sign-out")]
    Cancelled,
    #[error("not signed in")]
    NotSignedIn,
    #[error("the session changed")]
    SessionChanged,
    #[error("storage: {0}")]
    Storage(StorageError),
    #[error("key signer: {0}")]
    KeySigner(KeySignerError),
    #[error("the token is not bound to the session key sent")]
    SessionKeyMismatch,
    /// The environment requires a device signature and none could be made; why not.
    #[error("no device signature could be made: {0}")]
    DeviceNonceUnavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// True when Dynamic answered 401: it no longer accepts the bearer.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Http { status: 401, .. })
    }

    /// True when a 401 says the session was revoked (rather than expired or unknown).
    pub fn says_revoked(&self) -> bool {
        let Self::Http {
            body: Some(body), ..
        } = self
        else {
            return false;
        };
        body.text_message()
            .is_some_and(|t| t.to_ascii_lowercase().contains("revoked"))
    }
}

/// The one mapping from internal errors to the public enum. Every `ByoaError` the library
/// returns is made here (or by the helpers below it), from an internal `Error`.
impl From<Error> for ByoaError {
    fn from(error: Error) -> Self {
        match error {
            Error::Preflight(preflight) => from_preflight(preflight),
            Error::Http {
                status,
                body,
                retry_after_seconds,
                environment_id,
            } => from_http(status, body, retry_after_seconds, environment_id),
            Error::Transport(source) => from_transport(&source),
            Error::Deadline => Self::Network {
                kind: NetworkErrorKind::Timeout,
                detail: "the request timeout elapsed".into(),
            },
            Error::Decode { status, detail } => Self::InvalidResponse {
                status: status.into(),
                // serde quotes offending values; a token in the wrong field must not be shown.
                detail: scrub(&format!("body does not match the contract: {detail}")),
            },
            Error::Incomplete { status, detail } => Self::InvalidResponse {
                status: status.into(),
                detail: detail.into(),
            },
            Error::Config { field, detail } => Self::InvalidConfiguration {
                field: field.into(),
                // Details may quote the app's input (a URL's scheme): a token passed by mistake
                // must not be shown. Found by the client_urls fuzz target.
                detail: scrub(&detail),
            },
            Error::Superseded => Self::SignInSuperseded,
            Error::Cancelled => Self::SignInCancelled,
            Error::NotSignedIn => Self::NotSignedIn,
            Error::SessionChanged => Self::SessionChanged,
            Error::Storage(error) => Self::StorageUnavailable {
                error: error.scrubbed(),
            },
            Error::KeySigner(error) => Self::KeyUnavailable {
                error: error.scrubbed(),
            },
            Error::SessionKeyMismatch => Self::SessionKeyMismatch,
            Error::DeviceNonceUnavailable(why) => Self::DeviceNonceUnavailable {
                detail: scrub(&why),
            },
            Error::Internal(detail) => Self::Internal { detail },
        }
    }
}

/// Maps an HTTP error status and its (optional) body to what the caller should do.
fn from_http(
    status: u16,
    body: Option<Box<ApiErrorBody>>,
    retry_after_seconds: Option<u64>,
    environment_id: String,
) -> ByoaError {
    let code = body.as_ref().and_then(|b| b.code()).map(scrub);
    let server_detail = body
        .as_ref()
        .and_then(|b| b.text_message())
        .map(scrub)
        .unwrap_or_default();
    match (status, code.as_deref()) {
        (_, Some(CODE_INVALID_EXTERNAL_AUTH)) => ByoaError::ExternalAuthRejected {
            reason: ExternalAuthRejection::classify(&server_detail).into(),
            server_detail,
        },
        (_, Some(CODE_INVALID_SESSION_PUBLIC_KEY)) => ByoaError::InvalidSessionPublicKey,
        (_, Some(CODE_INVALID_DEVICE_SIGNATURE)) => ByoaError::DeviceSignatureRejected {
            reason: DeviceSignatureRejection::classify(&server_detail).into(),
            server_detail,
        },
        (_, Some(CODE_SANDBOX_MAXIMUM_THRESHOLD_REACHED)) => {
            ByoaError::SandboxLimitReached { server_detail }
        }
        (429, _) => ByoaError::RateLimited {
            retry_after_seconds: retry_after_seconds.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        },
        (401, _) => ByoaError::Unauthorized { server_detail },
        // Only a 404 that names the environment means it: a wrong base URL (say, without
        // /api/v0) also gets 404s, and must not read as a missing environment.
        (404, _) if server_detail.to_ascii_lowercase().contains("environment") => {
            ByoaError::EnvironmentNotFound { environment_id }
        }
        (500..=599, _) => ByoaError::ServerError {
            status: status.into(),
            server_detail,
        },
        _ => ByoaError::RequestRejected {
            status: status.into(),
            code,
            server_detail,
        },
    }
}

/// A request that got no response. A cancelled request is `other`: the kinds say what the
/// network did, and the platform stopping a request is not a network condition of its own.
fn from_transport(source: &HttpError) -> ByoaError {
    let kind = match source {
        HttpError::Connect { .. } => NetworkErrorKind::Connect,
        HttpError::Timeout { .. } => NetworkErrorKind::Timeout,
        HttpError::Tls { .. } => NetworkErrorKind::Tls,
        HttpError::Cancelled { .. } | HttpError::Other { .. } => NetworkErrorKind::Other,
    };
    ByoaError::Network {
        kind,
        detail: source.scrubbed_detail(),
    }
}

impl From<PreflightError> for ByoaError {
    fn from(error: PreflightError) -> Self {
        Error::Preflight(error).into()
    }
}

/// A preflight failure: each has its own code.
fn from_preflight(error: PreflightError) -> ByoaError {
    use ByoaError as B;
    use PreflightError as P;
    match error {
        P::Empty => B::EmptyJwt,
        P::TooLarge { size, limit } => B::JwtTooLarge {
            size: i64::try_from(size).unwrap_or(i64::MAX),
            limit: i64::try_from(limit).unwrap_or(i64::MAX),
        },
        P::Malformed { detail } => B::MalformedJwt { detail },
        P::NotJson { segment } => B::JwtNotJson {
            segment: segment.into(),
        },
        // The header's `alg` is the token's own text: anything, a token included.
        P::UnsupportedAlgorithm { alg } => B::UnsupportedAlgorithm {
            alg: alg.map_or_else(|| "(missing)".into(), |alg| scrub(&alg)),
        },
        P::MissingClaim { claim } => B::MissingClaim {
            claim: claim.into(),
        },
        P::InvalidClaim { claim, expected } => B::InvalidClaim {
            claim: claim.into(),
            expected: expected.into(),
        },
        P::Expired { exp, now, leeway } => B::JwtExpired {
            expired_at_ms: epoch_ms(exp),
            now_ms: epoch_ms(now),
            leeway_seconds: leeway as i64,
        },
        P::NotYetValid {
            claim,
            at,
            now,
            leeway,
        } => B::JwtNotYetValid {
            claim: claim.into(),
            valid_from_ms: epoch_ms(at),
            now_ms: epoch_ms(now),
            leeway_seconds: leeway as i64,
        },
        P::SubjectMismatch {
            sub,
            external_user_id,
        } => B::ExternalUserIdMismatch {
            // Both are the app's input: if it passed a token by mistake, it must not be shown.
            jwt_sub: scrub(&sub),
            external_user_id: scrub(&external_user_id),
        },
        P::InvalidSessionPublicKey => B::InvalidSessionPublicKey,
    }
}

/// A foreign callback failed in a way its interface does not declare (uniffi's catch-all).
impl From<uniffi::UnexpectedUniFFICallbackError> for ByoaError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Error::Internal(scrub(&error.reason)).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_named_in_snake_case_as_the_bridge_and_texts_carry_them() {
        assert_eq!(RejectionReason::NotYetValid.to_string(), "not_yet_valid");
        assert_eq!(
            RejectionReason::JwksUnavailable.to_string(),
            "jwks_unavailable"
        );
        assert_eq!(
            DeviceSignatureReason::KeyMismatch.to_string(),
            "key_mismatch"
        );
        assert_eq!(NetworkErrorKind::Connect.to_string(), "connect");
    }

    fn http(status: u16, body: Option<ApiErrorBody>) -> ByoaError {
        Error::Http {
            status,
            body: body.map(Box::new),
            retry_after_seconds: Some(7),
            environment_id: "env".into(),
        }
        .into()
    }

    /// One error of every variant, so a new variant fails the category contract until listed.
    fn one_of_each() -> Vec<ByoaError> {
        let text = || String::from("x");
        vec![
            ByoaError::EmptyJwt,
            ByoaError::MalformedJwt { detail: text() },
            ByoaError::JwtNotJson { segment: text() },
            ByoaError::JwtTooLarge { size: 1, limit: 1 },
            ByoaError::UnsupportedAlgorithm { alg: text() },
            ByoaError::MissingClaim { claim: text() },
            ByoaError::InvalidClaim {
                claim: text(),
                expected: text(),
            },
            ByoaError::JwtExpired {
                expired_at_ms: 0,
                now_ms: 0,
                leeway_seconds: 0,
            },
            ByoaError::JwtNotYetValid {
                claim: text(),
                valid_from_ms: 0,
                now_ms: 0,
                leeway_seconds: 0,
            },
            ByoaError::ExternalUserIdMismatch {
                jwt_sub: text(),
                external_user_id: text(),
            },
            ByoaError::InvalidSessionPublicKey,
            ByoaError::ExternalAuthRejected {
                reason: RejectionReason::Issuer,
                server_detail: text(),
            },
            ByoaError::RateLimited {
                retry_after_seconds: None,
            },
            ByoaError::SandboxLimitReached {
                server_detail: text(),
            },
            ByoaError::Unauthorized {
                server_detail: text(),
            },
            ByoaError::EnvironmentNotFound {
                environment_id: text(),
            },
            ByoaError::RequestRejected {
                status: 400,
                code: None,
                server_detail: text(),
            },
            ByoaError::ServerError {
                status: 500,
                server_detail: text(),
            },
            ByoaError::DeviceSignatureRejected {
                reason: DeviceSignatureReason::Unknown,
                server_detail: text(),
            },
            ByoaError::DeviceNonceUnavailable { detail: text() },
            ByoaError::SessionKeyMismatch,
            ByoaError::KeyUnavailable {
                error: KeySignerError::Unavailable { detail: text() },
            },
            ByoaError::SignInSuperseded,
            ByoaError::SignInCancelled,
            ByoaError::NotSignedIn,
            ByoaError::SessionChanged,
            ByoaError::StorageUnavailable {
                error: StorageError::Unavailable { detail: text() },
            },
            ByoaError::Network {
                kind: NetworkErrorKind::Connect,
                detail: text(),
            },
            ByoaError::InvalidResponse {
                status: 200,
                detail: text(),
            },
            ByoaError::InvalidConfiguration {
                field: text(),
                detail: text(),
            },
            ByoaError::Internal { detail: text() },
            ByoaError::KeyUnavailable {
                error: KeySignerError::NotFound { detail: text() },
            },
            ByoaError::KeyUnavailable {
                error: KeySignerError::Failed { detail: text() },
            },
            ByoaError::StorageUnavailable {
                error: StorageError::Failed { detail: text() },
            },
        ]
    }

    #[test]
    fn category_of_every_code() {
        use ErrorCategory as C;
        let contract = [
            ("empty_jwt", C::InvalidInput),
            ("malformed_jwt", C::InvalidInput),
            ("jwt_not_json", C::InvalidInput),
            ("jwt_too_large", C::InvalidInput),
            ("unsupported_algorithm", C::InvalidInput),
            ("missing_claim", C::InvalidInput),
            ("invalid_claim", C::InvalidInput),
            ("jwt_expired", C::InvalidInput),
            ("jwt_not_yet_valid", C::InvalidInput),
            ("external_user_id_mismatch", C::InvalidInput),
            ("invalid_session_public_key", C::InvalidInput),
            ("external_auth_rejected", C::Rejected),
            ("rate_limited", C::RetryLater),
            ("sandbox_limit_reached", C::Misconfiguration),
            ("unauthorized", C::SignInAgain),
            ("environment_not_found", C::Misconfiguration),
            ("request_rejected", C::Misconfiguration),
            ("server_error", C::RetryLater),
            ("device_signature_rejected", C::Rejected),
            ("device_nonce_unavailable", C::RetryLater),
            ("session_key_mismatch", C::Misconfiguration),
            ("key_unavailable", C::RetryLater),
            ("sign_in_superseded", C::Superseded),
            ("sign_in_cancelled", C::Superseded),
            ("not_signed_in", C::SignInAgain),
            ("session_changed", C::Superseded),
            ("storage_unavailable", C::RetryLater),
            ("network", C::Network),
            ("invalid_response", C::Misconfiguration),
            ("invalid_configuration", C::Misconfiguration),
            ("internal", C::Bug),
            // The same codes when the key or the entry is gone or broken, not merely locked.
            ("key_unavailable", C::SignInAgain),
            ("key_unavailable", C::SignInAgain),
            ("storage_unavailable", C::SignInAgain),
        ];
        let errors = one_of_each();
        assert_eq!(errors.len(), contract.len());
        for (error, (code, category)) in errors.iter().zip(contract) {
            assert_eq!(error.code(), code);
            assert_eq!(error.category(), category, "{code}");
            let retryable = matches!(category, C::RetryLater | C::Network);
            assert_eq!(error.is_retryable(), retryable, "{code}");
        }
    }

    #[test]
    fn error_codes_lists_every_code() {
        use std::collections::BTreeSet;
        let codes: BTreeSet<&str> = one_of_each().iter().map(ByoaError::code_str).collect();
        let listed: BTreeSet<&str> = ERROR_CODES.iter().copied().collect();
        assert_eq!(listed.len(), ERROR_CODES.len(), "a code is listed twice");
        assert_eq!(codes, listed);
    }

    #[test]
    fn invalid_external_auth_becomes_a_rejection_with_its_reason() {
        let body = ApiErrorBody::coded("Audience (aud) does not match", CODE_INVALID_EXTERNAL_AUTH);
        assert_eq!(
            http(422, Some(body)),
            ByoaError::ExternalAuthRejected {
                reason: RejectionReason::Audience,
                server_detail: "Audience (aud) does not match".into()
            }
        );
    }

    #[test]
    fn a_refused_device_signature_becomes_its_typed_reason() {
        for rejection in DeviceSignatureRejection::ALL {
            let body = ApiErrorBody::coded(rejection.message(), CODE_INVALID_DEVICE_SIGNATURE);
            let error = http(422, Some(body));
            assert_eq!(error.code_str(), "device_signature_rejected");
            let ByoaError::DeviceSignatureRejected { reason, .. } = error else {
                unreachable!()
            };
            assert_eq!(reason, Some(rejection).into());
            assert_ne!(reason, DeviceSignatureReason::Unknown);
        }
    }

    #[test]
    fn sandbox_cap_is_read_from_the_nested_403_shape() {
        let body = ApiErrorBody::nested(CODE_SANDBOX_MAXIMUM_THRESHOLD_REACHED, "cap");
        assert_eq!(http(403, Some(body)).code_str(), "sandbox_limit_reached");
    }

    #[test]
    fn statuses_without_a_known_code_map_by_status() {
        assert_eq!(
            http(429, None),
            ByoaError::RateLimited {
                retry_after_seconds: Some(7)
            }
        );
        assert_eq!(http(401, None).code_str(), "unauthorized");
        let env_404 = ApiErrorBody::coded("Environment not found", "not_found");
        assert_eq!(http(404, Some(env_404)).code_str(), "environment_not_found");
        assert_eq!(http(404, None).code_str(), "request_rejected");
        assert_eq!(http(503, None).code_str(), "server_error");
        assert_eq!(http(400, None).code_str(), "request_rejected");
    }

    #[test]
    fn optional_fields_read_as_text_not_as_rust_debug() {
        let limited = |retry_after_seconds| ByoaError::RateLimited {
            retry_after_seconds,
        };
        assert_eq!(
            limited(Some(30)).to_string(),
            "rate limited by Dynamic; retry after 30 s"
        );
        assert_eq!(
            limited(None).to_string(),
            "rate limited by Dynamic; retry later"
        );
        let rejected = |code: Option<&str>| ByoaError::RequestRejected {
            status: 400,
            code: code.map(str::to_owned),
            server_detail: "bad request".into(),
        };
        assert_eq!(
            rejected(Some("bad_request")).to_string(),
            "Dynamic refused the request (HTTP 400, code bad_request): bad request"
        );
        assert_eq!(
            rejected(None).to_string(),
            "Dynamic refused the request (HTTP 400): bad request"
        );
    }

    #[test]
    fn device_errors_map_to_their_codes_with_scrubbed_text() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhYmMifQ.c2lnbmF0dXJlc2lnbmF0dXJl";
        let no_nonce = ByoaError::from(Error::DeviceNonceUnavailable(format!("near {jwt}")));
        assert_eq!(no_nonce.code_str(), "device_nonce_unavailable");
        let failed = KeySignerError::Failed { detail: jwt.into() };
        let no_key = ByoaError::from(Error::KeySigner(failed));
        assert_eq!(no_key.code_str(), "key_unavailable");
        for error in [no_nonce, no_key] {
            assert!(!error.to_string().contains(jwt), "{error}");
        }
        let mismatch = ByoaError::from(Error::SessionKeyMismatch);
        assert_eq!(mismatch.code_str(), "session_key_mismatch");
    }

    #[test]
    fn a_shared_error_is_checked_in_its_one_form() {
        let body = ApiErrorBody::coded("session revoked", "unauthorized");
        let refused = Error::Http {
            status: 401,
            body: Some(Box::new(body)),
            retry_after_seconds: None,
            environment_id: "env".into(),
        };
        // What every caller of one shared request receives.
        let shared = refused.clone();
        assert!(shared.is_unauthorized() && shared.says_revoked());
        assert!(!Error::Deadline.is_unauthorized());
    }

    #[test]
    fn server_text_that_carries_a_jwt_is_scrubbed() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhYmMifQ.c2lnbmF0dXJlc2lnbmF0dXJl";
        let body = ApiErrorBody::coded(format!("bad token {jwt}"), CODE_INVALID_EXTERNAL_AUTH);
        let error = http(422, Some(body));
        assert!(!error.to_string().contains(jwt));
        assert!(!format!("{error:?}").contains("eyJzdWIiOiJhYmMifQ"));
    }
}
