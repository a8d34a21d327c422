//! A faithful local emulator of Dynamic's SDK API for "Bring Your Own Auth" (external-JWT
//! sign-in and the session routes that follow it), for development and tests only.
//!
//! The wire contract is `docs/contract.md`; every body, header and path used here
//! comes from `dynamic_byoa_contract`. The emulator:
//!
//! * verifies external JWTs the way Dynamic documents it ([`verify_external_jwt`]), fetching the
//!   customer's JWKS over HTTP(S) through a bounded cache ([`JwksCache`]);
//! * mints RS256 Dynamic session tokens with its own [`SigningKey`] and serves that key's JWKS;
//! * keeps users and sessions in memory, one [`std::sync::Mutex`] for all state;
//! * offers test hooks: request counters, fault injection ([`Fault`]), session revocation.
//!
//! [`TestIssuer`] is a throw-away external identity provider (ES256 keys plus a real JWKS
//! endpoint) for demos and tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dynamic_byoa_emulator::EmulatorError> {
//! use std::time::Duration;
//! use dynamic_byoa_emulator::{Emulator, EmulatorConfig, EnvironmentConfig, TestIssuer};
//!
//! let issuer = TestIssuer::start().await?;
//! let env = "2762a57b-faa4-41ce-9f16-abff9300e2c9";
//! let config = EmulatorConfig::new(vec![EnvironmentConfig::new(
//!     env,
//!     issuer.issuer(),
//!     issuer.jwks_url(),
//! )]);
//! let emulator = Emulator::start(config).await?;
//! let external_jwt = issuer.mint(&issuer.claims_for("user-42", Duration::from_secs(600)));
//! // POST {emulator.base_url()}/sdk/{env}/externalAuth/signin with {"jwt": external_jwt}
//! # let _ = external_jwt;
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod config;
mod connection;
mod device;
mod error;
mod faults;
mod ids;
mod issuer;
mod jwks_cache;
mod keys;
mod nonces;
mod routes;
mod server;
mod state;
mod tokens;
mod verify;

#[doc(hidden)]
pub mod fuzzing;

pub use config::{DEFAULT_ELEVATED_TOKEN_TTL, EmulatorConfig, EnvironmentConfig};
pub use error::EmulatorError;
pub use faults::Fault;
pub use issuer::TestIssuer;
pub use jwks_cache::{JwksCache, JwksCacheLimits, http_client};
pub use keys::SigningKey;
pub use server::{Emulator, Hold};
pub use verify::{
    ExternalJwtPolicy, Rejection, VerifiedExternalJwt, check_external_jwt, verify_external_jwt,
};
