//! The app's external-JWT provider: how the client re-exchanges when a session can no longer be
//! refreshed, instead of signing the user out; and the parameters it returns, which are also
//! those of `signInWithExternalJwt`.

use crate::support::redact::{REDACTED, scrub};

/// Parameters of `signInWithExternalJwt`, named as in Dynamic's React Native SDK.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct SignInWithExternalJwtParams {
    /// The raw JWT from the app's auth provider. Surrounding whitespace is ignored.
    pub external_jwt: String,
    /// The app's id for the user; must equal the JWT's `sub`. Checked on the device, never sent
    /// (Dynamic derives the external user id from `sub`).
    pub external_user_id: String,
    /// Compressed P-256 public key (66 lowercase hex chars) to bind into the session token.
    #[uniffi(default = None)]
    pub session_public_key: Option<String>,
}

impl std::fmt::Debug for SignInWithExternalJwtParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInWithExternalJwtParams")
            .field("external_jwt", &REDACTED)
            .field("external_user_id", &scrub(&self.external_user_id))
            .field("session_public_key", &self.session_public_key)
            .finish()
    }
}

impl std::fmt::Display for SignInWithExternalJwtParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// Supplies a fresh external JWT for the signed-in user, from the app's own auth provider
/// (for example Firebase `getIdToken(true)` or Auth0 `getCredentials()`). Optional.
///
/// The client calls it when Dynamic refuses to refresh the session (HTTP 401), when the session
/// has expired (also one found expired at start-up), before giving the session up. It is called
/// at most once at a time, and its result must be for the same external user: a JWT for another
/// user is not used. If it fails or takes longer than the request timeout, the session ends as it
/// would have without it.
#[uniffi::export(with_foreign)]
#[async_trait::async_trait]
pub trait ExternalJwtProvider: Send + Sync {
    async fn fetch_external_jwt(&self) -> Result<SignInWithExternalJwtParams, ProviderError>;
}

/// Why the provider could not supply a JWT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum ProviderError {
    /// The user must sign in interactively (the provider's own session has ended).
    #[error("the external provider needs an interactive sign-in: {detail}")]
    InteractionRequired { detail: String },
    #[error("the external provider failed: {detail}")]
    Failed { detail: String },
}

impl ProviderError {
    pub(crate) fn scrubbed_detail(&self) -> String {
        match self {
            Self::InteractionRequired { detail } | Self::Failed { detail } => scrub(detail),
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ProviderError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Failed {
            detail: scrub(&error.reason),
        }
    }
}
