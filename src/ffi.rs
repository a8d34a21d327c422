//! The exported surface: thin objects that delegate to `Core`.
//!
//! Shape: `client.auth().external().signInWithExternalJwt(...)`, mirroring Dynamic's
//! `dynamicClient.auth.external.signInWithExternalJwt`. The sub-objects hold a strong reference
//! to the shared core, so closing or dropping them in any order is safe: there is no object
//! lifetime to get wrong, only a little Arc traffic.

use std::sync::Arc;

use crate::config::ClientConfig;
use crate::error::ByoaError;
use crate::exchange::{Core, SignInWithExternalJwtParams};
use crate::runtime;
use crate::session::{SessionTokens, SignedInSession};

/// A client for one Dynamic environment. Create one per environment and keep it for the life of
/// the app; several clients in one process are independent.
#[derive(uniffi::Object)]
#[uniffi::export(Debug)]
pub struct DynamicClient {
    core: Arc<Core>,
}

#[uniffi::export]
impl DynamicClient {
    /// Validates `config` and builds the client. Does no I/O.
    #[uniffi::constructor]
    pub fn new(config: ClientConfig) -> Result<Arc<Self>, ByoaError> {
        let core = Core::new(config).map_err(ByoaError::from)?;
        Ok(Arc::new(Self {
            core: Arc::new(core),
        }))
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

    /// The signed-in user and expiry, or `None` when signed out.
    pub fn session(&self) -> Option<SignedInSession> {
        self.core.current_session()
    }

    /// The Dynamic tokens of the current session, or `None` when signed out.
    pub fn tokens(&self) -> Option<Arc<SessionTokens>> {
        self.core.tokens()
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
    /// 502/503/504. On success the session is kept by the client; on failure the previous
    /// session, if any, is kept too.
    pub async fn sign_in_with_external_jwt(
        &self,
        params: SignInWithExternalJwtParams,
    ) -> Result<SignedInSession, ByoaError> {
        let core = self.core.clone();
        runtime::run(async move { core.sign_in_with_external_jwt(params).await }).await
    }
}
