//! The exported surface: thin objects that delegate to `Core`, and the React Native payloads
//! (`bridge`).
//!
//! May import: every other layer.
//!
//! Shape: `client.auth().external().signInWithExternalJwt(...)`, mirroring Dynamic's
//! `dynamicClient.auth.external.signInWithExternalJwt`. The sub-objects hold a strong reference
//! to the shared core, so closing or dropping them in any order is safe: there is no object
//! lifetime to get wrong, only a little Arc traffic.

pub mod bridge;

use std::sync::Arc;

use crate::client::Core;
use crate::client::scheduler;
use crate::config::ClientConfig;
use crate::error::{ByoaError, Error};
use crate::jwt::step_up::{ElevatedAccess, VerifyWithExternalJwtParams};
use crate::ports::ClientDependencies;
use crate::ports::provider::ExternalJwtProvider;
use crate::ports::provider::SignInWithExternalJwtParams;
use crate::session::events::{AuthListener, AuthState, ListenerHandle};
use crate::session::{SessionTokens, SignedInSession};
use crate::support::clock::{Clock, SystemClock};
use crate::support::runtime;

/// Runs `work` on the library runtime and converts its error for the FFI: the one hop every
/// exported async method makes (see `support::runtime` for why).
pub(crate) async fn run<T, F>(work: F) -> Result<T, ByoaError>
where
    F: std::future::Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    match runtime::spawn_joined(work).await {
        Ok(result) => result.map_err(ByoaError::from),
        Err(join) => {
            let what = if join.is_panic() {
                "the operation panicked"
            } else {
                "the operation was cancelled"
            };
            Err(Error::Internal(what.into()).into())
        }
    }
}

/// A client for one Dynamic environment. Create one per environment and keep it for the life of
/// the app; several clients in one process are independent.
#[derive(uniffi::Object)]
#[uniffi::export(Debug)]
pub struct DynamicClient {
    core: Arc<Core>,
}

#[uniffi::export]
impl DynamicClient {
    /// A client for `config.environment_id`, using the `dependencies` given and the defaults
    /// for the rest. Validates `config`; does no I/O (a stored session is read in the
    /// background, off the calling thread).
    #[uniffi::constructor(default(dependencies))]
    pub fn new(
        config: ClientConfig,
        dependencies: ClientDependencies,
    ) -> Result<Arc<Self>, ByoaError> {
        Self::with_clock(config, dependencies, Arc::new(SystemClock))
    }

    /// Authentication: sessions and the external-JWT exchange.
    pub fn auth(&self) -> Arc<AuthModule> {
        Arc::new(AuthModule {
            core: self.core.clone(),
        })
    }

    pub fn environment_id(&self) -> String {
        self.core.settings().environment_id.clone()
    }
}

impl DynamicClient {
    /// Rust only: `new` on the given clock, so an app's tests (and ours) can drive expiry,
    /// refresh and skew with a [`crate::clock::ManualClock`] instead of waiting.
    pub fn with_clock(
        config: ClientConfig,
        dependencies: ClientDependencies,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, ByoaError> {
        let core = Core::new(config, dependencies, clock).map_err(ByoaError::from)?;
        scheduler::start(&core);
        core.prefetch_nonces();
        Ok(Arc::new(Self { core }))
    }
}

/// Printed (Kotlin `toString`, Swift `debugDescription`) as the environment and the state's
/// one-line summary: no profile data, no token.
impl std::fmt::Debug for AuthModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthModule")
            .field("environment_id", &self.core.settings().environment_id)
            .field("state", &self.core.state().summary())
            .finish()
    }
}

impl std::fmt::Debug for ExternalAuthModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalAuthModule")
            .field("environment_id", &self.core.settings().environment_id)
            .finish()
    }
}

impl std::fmt::Debug for DynamicClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let settings = self.core.settings();
        f.debug_struct("DynamicClient")
            .field("environment_id", &settings.environment_id)
            .field("api_base_url", &settings.api_base_url)
            .field("signed_in", &self.core.current_session().is_some())
            .finish()
    }
}

/// `client.auth()`.
#[derive(uniffi::Object)]
#[uniffi::export(Debug)]
pub struct AuthModule {
    core: Arc<Core>,
}

#[uniffi::export]
impl AuthModule {
    /// Sign-in with the app's own auth provider (Bring Your Own Auth).
    pub fn external(&self) -> Arc<ExternalAuthModule> {
        Arc::new(ExternalAuthModule {
            core: self.core.clone(),
        })
    }

    /// Where the session stands now.
    pub fn state(&self) -> AuthState {
        self.core.state()
    }

    /// The signed-in user and expiry, or `None` when signed out, not yet restored, or expired.
    pub fn session(&self) -> Option<SignedInSession> {
        self.core.current_session().map(|s| s.profile)
    }

    /// The Dynamic tokens of the current session, or `None` when there is no unexpired session.
    pub fn tokens(&self) -> Option<Arc<SessionTokens>> {
        self.core.tokens()
    }

    /// Reads the stored session if it has not been read yet (or could not be: call this again
    /// when the app becomes active after `StorageUnavailable`), notices an expiry that happened
    /// while the app was suspended, and returns the settled state. Never deletes a stored
    /// session because the store could not be read.
    pub async fn restore(&self) -> AuthState {
        let core = self.core.clone();
        run(async move { Ok(core.restore().await) })
            .await
            .unwrap_or_else(|_| self.core.state())
    }

    /// Extends the session now (`POST refresh`). Concurrent calls share one request. On HTTP 401
    /// the session ends (`refresh_unauthorized`, or `revoked`) unless the JWT provider can
    /// re-exchange; other failures keep the session.
    pub async fn refresh(&self) -> Result<SignedInSession, ByoaError> {
        let core = self.core.clone();
        run(async move { core.refresh().await }).await
    }

    /// The session's bearer token for a call to the app's backend, valid for at least
    /// `options.min_ttl_seconds` more (server clock). A token that would expire sooner is
    /// refreshed first; concurrent callers share one refresh. `force_refresh` asks for a token
    /// newer than the one the caller saw. Signed out: `not_signed_in`. A refresh Dynamic refuses
    /// ends the session (as `refresh()` does) and fails with its error.
    #[uniffi::method(default(options))]
    pub async fn access_token(&self, options: AccessTokenOptions) -> Result<String, ByoaError> {
        let core = self.core.clone();
        let min_ttl = options
            .min_ttl_seconds
            .unwrap_or(DEFAULT_MIN_TTL_SECONDS)
            .max(0);
        run(async move {
            let session = core.fresh_session(min_ttl, options.force_refresh).await?;
            Ok(session.bearer().to_owned())
        })
        .await
    }

    /// The elevated access token a step-up (`external().verify_with_external_jwt`) granted this
    /// session for calls needing every scope in `scopes`, if one is unexpired. Send it as
    /// `x-dyn-elevated-access-token`. A single-use token is handed out once; all are forgotten at
    /// sign-out, and none outlives its session or the process.
    pub fn elevated_access_token(&self, scopes: Vec<String>) -> Option<String> {
        self.core.elevated_access_token(&scopes)
    }

    /// Signs out: the session is cleared locally and in storage at once (even offline), then
    /// revoked on the server within a few seconds, best effort.
    pub async fn sign_out(&self) {
        let core = self.core.clone();
        let _ = run(async move {
            core.sign_out().await;
            Ok(())
        })
        .await;
    }

    /// Registers `listener` for every state change. It is first called with the current state.
    pub fn add_listener(&self, listener: Arc<dyn AuthListener>) -> Arc<ListenerHandle> {
        Arc::new(self.core.add_listener(listener))
    }
}

/// `client.auth().external()`.
#[derive(uniffi::Object)]
#[uniffi::export(Debug)]
pub struct ExternalAuthModule {
    core: Arc<Core>,
}

#[uniffi::export]
impl ExternalAuthModule {
    /// Exchanges the app's JWT for a Dynamic session. The JWT is checked on the device first
    /// (shape, algorithm, claims, time window, `sub` = `externalUserId`; not the signature, which
    /// only Dynamic can verify), then sent once, with retries only on connection failures and
    /// 502/503/504. Concurrent calls with the same parameters share one request. On success the
    /// session is kept and stored; on failure the previous session, if any, is kept.
    pub async fn sign_in_with_external_jwt(
        &self,
        params: SignInWithExternalJwtParams,
    ) -> Result<SignedInSession, ByoaError> {
        // The place in line is taken now, when the app calls, not when the work gets to run.
        let ticket = self.core.begin_sign_in();
        let core = self.core.clone();
        run(async move { core.sign_in_with_external_jwt(params, ticket).await }).await
    }

    /// Step-up: the signed-in user proves again, with a fresh assertion from the app's provider
    /// (`sub` = the signed-in external user, `scope`, `jti`, `exp`), that they are present.
    /// Returns what the elevated access token allows; read the token itself with
    /// `auth().elevated_access_token(scopes)` when making the sensitive call. Signed out:
    /// `not_signed_in`, and nothing is sent.
    pub async fn verify_with_external_jwt(
        &self,
        params: VerifyWithExternalJwtParams,
    ) -> Result<ElevatedAccess, ByoaError> {
        let core = self.core.clone();
        run(async move { core.verify_with_external_jwt(params).await }).await
    }

    /// Sets (or clears, with `None`) the provider the client asks for a fresh external JWT when
    /// the session cannot be refreshed or has expired (see `ClientDependencies::jwt_provider`).
    pub fn set_jwt_provider(&self, provider: Option<Arc<dyn ExternalJwtProvider>>) {
        self.core.set_provider(provider);
    }
}

/// Options of `auth().access_token()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Record)]
pub struct AccessTokenOptions {
    /// The token must stay valid this many seconds more, or it is refreshed first; default 60.
    /// A value over half the session's lifetime counts as half of it.
    #[uniffi(default)]
    pub min_ttl_seconds: Option<i64>,
    /// Refresh even if the token is fresh enough.
    #[uniffi(default)]
    pub force_refresh: bool,
}

/// Default of `AccessTokenOptions::min_ttl_seconds`.
pub const DEFAULT_MIN_TTL_SECONDS: i64 = 60;
