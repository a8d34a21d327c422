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

mod binding;
pub mod bridge;
mod client;
pub mod clock;
mod config;
mod device_keys;
mod error;
mod events;
mod exchange;
mod ffi;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod jwks;
mod lifecycle;
mod logging;
mod nonces;
pub mod preflight;
mod provider;
pub mod redact;
mod runtime;
mod scheduler;
mod session;
mod single_flight;
mod step_up;
mod storage;
mod transport;

pub use binding::DeviceSignatureReason;
pub use config::{
    ClientConfig, DEFAULT_CLOCK_LEEWAY_SECONDS, DEFAULT_REFRESH_MARGIN_SECONDS,
    DEFAULT_REQUEST_TIMEOUT_MS,
};
pub use device_keys::{KeySigner, KeySignerError, SoftwareKeySigner};
pub use error::{ByoaError, ERROR_CODES, ErrorCategory, NetworkErrorKind, RejectionReason};
pub use events::{AuthListener, AuthState, ListenerHandle, SignOutReason};
pub use exchange::SignInWithExternalJwtParams;
pub use ffi::{
    AccessTokenOptions, AuthModule, ClientDependencies, DEFAULT_MIN_TTL_SECONDS, DynamicClient,
    ExternalAuthModule,
};
pub use http::{HttpError, HttpHeader, HttpMethod, HttpRequest, HttpResponse, HttpTransport};
pub use logging::{LogLevel, Logger, set_logger};
pub use provider::{ExternalJwtProvider, ProviderError};
pub use session::{
    CredentialFormat, SessionTokens, SignedInSession, UserProfile, VerifiedCredential,
};
pub use step_up::{ElevatedAccess, VerifyWithExternalJwtParams};
pub use storage::{FileStorage, MemoryStorage, SessionStorage, StorageError};
pub use transport::SDK_VERSION_HEADER;
