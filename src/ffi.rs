//! The exported surface: thin objects that delegate to `Core`.
//!
//! Shape: `client.auth().external().signInWithExternalJwt(...)`, mirroring Dynamic's
//! `dynamicClient.auth.external.signInWithExternalJwt`. The sub-objects hold a strong reference
//! to the shared core, so closing or dropping them in any order is safe: there is no object
//! lifetime to get wrong, only a little Arc traffic.

use std::sync::Arc;

use crate::client::Core;
use crate::clock::{Clock, SystemClock};
use crate::config::ClientConfig;
use crate::device_keys::KeySigner;
use crate::error::ByoaError;
use crate::events::{AuthListener, AuthState, ListenerHandle};
use crate::exchange::SignInWithExternalJwtParams;
use crate::provider::ExternalJwtProvider;
use crate::session::{SessionTokens, SignedInSession};
use crate::step_up::{ElevatedAccess, VerifyWithExternalJwtParams};
use crate::storage::{MemoryStorage, SessionStorage};
use crate::{runtime, scheduler};

/// A client for one Dynamic environment. Create one per environment and keep it for the life of
/// the app; several clients in one process are independent.
#[derive(uniffi::Object)]
#[uniffi::export(Debug)]
pub struct DynamicClient {
    core: Arc<Core>,
}

#[uniffi::export]
impl DynamicClient {
    /// A client whose session lives in memory only (nothing survives the process). Validates
    /// `config`; does no I/O.
    #[uniffi::constructor]
    pub fn new(config: ClientConfig) -> Result<Arc<Self>, ByoaError> {
        Self::with_storage(config, Arc::new(MemoryStorage::new()), None)
    }

    /// A client that keeps its session in `storage` (the platform's secure store) and restores
    /// it from there: the state starts as `Restoring` and settles in the background (await
    /// `auth().restore()` to wait for it). `jwt_provider`, if given, is asked for a fresh
    /// external JWT when the session cannot be refreshed or has expired, including a session
    /// found expired by this first restore (which is why it is a constructor argument).
    /// Validates `config`; the storage is read off the calling thread.
    #[uniffi::constructor(default(jwt_provider = None))]
    pub fn with_storage(
        config: ClientConfig,
        storage: Arc<dyn SessionStorage>,
        jwt_provider: Option<Arc<dyn ExternalJwtProvider>>,
    ) -> Result<Arc<Self>, ByoaError> {
        Self::with_clock(config, storage, jwt_provider, Arc::new(SystemClock))
    }

    /// `with_storage` plus device-bound sessions: `key_signer` holds this install's keys (on
    /// phones: Secure Enclave / Android Keystore; elsewhere `software_key_signer(storage)`).
    /// Each sign-in is bound to a new session key (when `config.bind_session_key`, the
    /// default), and sign-in and refresh carry a signature of a server nonce by the device key.
    #[uniffi::constructor(default(jwt_provider = None))]
    pub fn with_key_signer(
        config: ClientConfig,
        storage: Arc<dyn SessionStorage>,
        key_signer: Arc<dyn KeySigner>,
        jwt_provider: Option<Arc<dyn ExternalJwtProvider>>,
    ) -> Result<Arc<Self>, ByoaError> {
        Self::with_clock_and_signer(
            config,
            storage,
            jwt_provider,
            Arc::new(SystemClock),
            Some(key_signer),
        )
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
    /// Rust only: a client on the given clock, so an app's tests (and ours) can drive expiry,
    /// refresh and skew with a [`crate::clock::ManualClock`] instead of waiting.
    pub fn with_clock(
        config: ClientConfig,
        storage: Arc<dyn SessionStorage>,
        jwt_provider: Option<Arc<dyn ExternalJwtProvider>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, ByoaError> {
        Self::with_clock_and_signer(config, storage, jwt_provider, clock, None)
    }

    /// Rust only: `with_clock` with an optional key signer (see `with_key_signer`).
    pub fn with_clock_and_signer(
        config: ClientConfig,
        storage: Arc<dyn SessionStorage>,
        jwt_provider: Option<Arc<dyn ExternalJwtProvider>>,
        clock: Arc<dyn Clock>,
        key_signer: Option<Arc<dyn KeySigner>>,
    ) -> Result<Arc<Self>, ByoaError> {
        let core =
            Core::new(config, storage, jwt_provider, clock, key_signer).map_err(ByoaError::from)?;
        scheduler::start(&core);
        core.prefetch_nonces();
        Ok(Arc::new(Self { core }))
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
        runtime::run(async move { Ok(core.restore().await) })
            .await
            .unwrap_or_else(|_| self.core.state())
    }

    /// Extends the session now (`POST refresh`). Concurrent calls share one request. On HTTP 401
    /// the session ends (`refresh_unauthorized`, or `revoked`) unless the JWT provider can
    /// re-exchange; other failures keep the session.
    pub async fn refresh(&self) -> Result<SignedInSession, ByoaError> {
        let core = self.core.clone();
        runtime::run(async move { core.refresh().await }).await
    }

    /// The session's bearer token for a call to the app's backend, valid for at least
    /// `options.min_ttl_seconds` more (server clock). A token that would expire sooner is
    /// refreshed first; concurrent callers share one refresh. `force_refresh` asks for a token
    /// newer than the one the caller saw. Signed out: `not_signed_in`. A refresh Dynamic refuses
    /// ends the session (as `refresh()` does) and fails with its error.
    pub async fn access_token(&self, options: AccessTokenOptions) -> Result<String, ByoaError> {
        let core = self.core.clone();
        runtime::run(async move {
            let session = core
                .fresh_session(options.min_ttl_seconds, options.force_refresh)
                .await?;
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
        let _ = runtime::run(async move {
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
        runtime::run(async move { core.sign_in_with_external_jwt(params, ticket).await }).await
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
        runtime::run(async move { core.verify_with_external_jwt(params).await }).await
    }

    /// Sets (or clears, with `None`) the provider the client asks for a fresh external JWT when
    /// the session cannot be refreshed or has expired (see `DynamicClient::with_storage`).
    pub fn set_jwt_provider(&self, provider: Option<Arc<dyn ExternalJwtProvider>>) {
        self.core.set_provider(provider);
    }
}

/// Options of `auth().access_token()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct AccessTokenOptions {
    /// The token must stay valid this many seconds more, or it is refreshed first. A value over
    /// half the session's lifetime counts as half of it.
    #[uniffi(default = 60)]
    pub min_ttl_seconds: u64,
    /// Refresh even if the token is fresh enough.
    #[uniffi(default = false)]
    pub force_refresh: bool,
}

impl Default for AccessTokenOptions {
    fn default() -> Self {
        Self {
            min_ttl_seconds: 60,
            force_refresh: false,
        }
    }
}
