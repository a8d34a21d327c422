//! Native client for Dynamic's "Bring Your Own Auth": exchange an external JWT for a Dynamic
//! session, with one Rust core behind Swift, Kotlin and React Native.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dynamic_byoa::ByoaError> {
//! use dynamic_byoa::{ClientConfig, DynamicClient, SignInWithExternalJwtParams};
//! let config = ClientConfig::new("2762a57b-faa4-41ce-9f16-abff9300e2c9");
//! // Storage, key signer, JWT provider and HTTP transport all default.
//! let client = DynamicClient::new(config, Default::default())?;
//! let session = client.auth().external().sign_in_with_external_jwt(SignInWithExternalJwtParams {
//!     external_jwt: "<jwt from your provider>".into(),
//!     external_user_id: "user-123".into(),
//!     session_public_key: None,
//! }).await?;
//! println!("signed in as {} until {} ms", session.user.user_id, session.expires_at_ms);
//! # Ok(()) }
//! ```

uniffi::setup_scaffolding!("dynamic_byoa");

// The layers, each importing only those below it (scripts/check-module-cycles.py keeps the graph
// acyclic): support < ports < error < config < network < jwt < device < session < client < api.
mod api;
mod client;
mod config;
mod device;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod jwt;
mod network;
mod ports;
mod session;
mod support;

pub use api::bridge;
pub use api::{
    AccessTokenOptions, AuthModule, DEFAULT_MIN_TTL_SECONDS, DynamicClient, ExternalAuthModule,
};
pub use config::{
    ClientConfig, DEFAULT_CLOCK_LEEWAY_SECONDS, DEFAULT_REFRESH_MARGIN_SECONDS,
    DEFAULT_REQUEST_TIMEOUT_MS,
};
pub use device::keys::SoftwareKeySigner;
pub use error::{
    ByoaError, DeviceSignatureReason, ERROR_CODES, ErrorCategory, NetworkErrorKind, RejectionReason,
};
pub use jwt::preflight;
pub use jwt::step_up::{ElevatedAccess, VerifyWithExternalJwtParams};
pub use network::SDK_VERSION_HEADER;
pub use ports::ClientDependencies;
pub use ports::http::{
    HttpError, HttpHeader, HttpMethod, HttpRequest, HttpResponse, HttpTransport,
};
pub use ports::key_signer::{KeySigner, KeySignerError};
pub use ports::provider::{ExternalJwtProvider, ProviderError, SignInWithExternalJwtParams};
pub use ports::storage::{FileStorage, MemoryStorage, SessionStorage, StorageError};
pub use session::events::{AuthListener, AuthState, ListenerHandle, SignOutReason};
pub use session::{
    CredentialFormat, SessionTokens, SignedInSession, UserProfile, VerifiedCredential,
};
pub use support::logging::{LogLevel, Logger, set_logger};
pub use support::{clock, redact};
