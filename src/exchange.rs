//! The external-JWT exchange: preflight, `POST externalAuth/signin`, keep the session.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use dynamic_byoa_contract::{ExternalAuthSigninRequest, VerifyResponse, paths};

use crate::clock::{Clock, SystemClock};
use crate::config::{ClientConfig, Settings};
use crate::error::Error;
use crate::preflight::{self, Expectations};
use crate::redact::REDACTED;
use crate::session::{Session, SessionTokens, SignedInSession, unix_seconds};
use crate::transport::Transport;

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
            .field("external_user_id", &self.external_user_id)
            .field("session_public_key", &self.session_public_key)
            .finish()
    }
}

impl std::fmt::Display for SignInWithExternalJwtParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// The client's internal state and operations; the exported objects delegate here.
pub(crate) struct Core {
    settings: Arc<Settings>,
    transport: Transport,
    clock: Arc<dyn Clock>,
    session: Mutex<Option<Session>>,
    /// Server time minus device time, in seconds, learned from `Date` headers. Preflight time
    /// checks use the server's clock, so a device whose clock is off by an hour does not refuse a
    /// good token (nor send a dead one).
    server_offset_seconds: AtomicI64,
}

impl Core {
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let settings = Arc::new(Settings::try_from(config)?);
        Ok(Self {
            transport: Transport::new(settings.clone())?,
            settings,
            clock: Arc::new(SystemClock),
            session: Mutex::new(None),
            server_offset_seconds: AtomicI64::new(0),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub async fn sign_in_with_external_jwt(
        &self,
        params: SignInWithExternalJwtParams,
    ) -> Result<SignedInSession, Error> {
        let jwt = params.external_jwt.trim();
        preflight::check(
            jwt,
            Expectations {
                external_user_id: Some(&params.external_user_id),
                now: self.server_now(),
                leeway_seconds: self.settings.leeway_seconds,
            },
        )?;
        if let Some(key) = &params.session_public_key {
            preflight::check_session_public_key(key)?;
        }
        let body = ExternalAuthSigninRequest {
            jwt: Some(jwt.to_owned()),
            session_public_key: params.session_public_key.clone(),
        };
        let reply = self
            .transport
            .post_json::<_, VerifyResponse>(paths::EXTERNAL_AUTH_SIGNIN, &body, None)
            .await?;
        self.learn_server_time(reply.server_date);
        let session = Session::from_response(&reply.body, 200)?;
        // Replaced only on success: a failed sign-in never loses the session the app had.
        *self.lock_session() = Some(session.clone());
        Ok(session.profile)
    }

    /// Unix seconds on the server's clock, as far as it is known.
    fn server_now(&self) -> i64 {
        self.clock.now_unix() + self.server_offset_seconds.load(Ordering::Relaxed)
    }

    fn learn_server_time(&self, server_date: Option<SystemTime>) {
        if let Some(date) = server_date {
            let offset = unix_seconds(date) - self.clock.now_unix();
            self.server_offset_seconds.store(offset, Ordering::Relaxed);
        }
    }

    pub fn current_session(&self) -> Option<SignedInSession> {
        self.lock_session().as_ref().map(|s| s.profile.clone())
    }

    pub fn tokens(&self) -> Option<Arc<SessionTokens>> {
        self.lock_session().as_ref().map(|s| s.tokens.clone())
    }

    fn lock_session(&self) -> std::sync::MutexGuard<'_, Option<Session>> {
        // The guarded value is a plain Option replaced whole, so a panic elsewhere cannot leave it
        // half-written: recover from poisoning instead of propagating it.
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
