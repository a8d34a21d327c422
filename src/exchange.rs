//! The external-JWT exchange: preflight, `POST externalAuth/signin`, keep the session.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::SystemTime;

use dynamic_byoa_contract::{ExternalAuthSigninRequest, VerifyResponse, paths};

use crate::clock::{Clock, SystemClock};
use crate::config::{ClientConfig, Settings};
use crate::error::Error;
use crate::preflight::{self, Expectations};
use crate::redact::{REDACTED, scrub};
use crate::session::{Session, SessionSlot, SessionTokens, SignedInSession, unix_seconds};
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

/// The client's internal state and operations; the exported objects delegate here.
pub(crate) struct Core {
    settings: Arc<Settings>,
    transport: Transport,
    clock: Arc<dyn Clock>,
    session: SessionSlot,
    /// Server time minus device time, in seconds, learned from `Date` headers. Preflight time
    /// checks use the server's clock, so a device whose clock is off by an hour does not refuse a
    /// good token (nor send a dead one).
    server_offset_seconds: AtomicI64,
}

impl Core {
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    pub(crate) fn with_clock(config: ClientConfig, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let settings = Arc::new(Settings::try_from(config)?);
        Ok(Self {
            transport: Transport::new(settings.clone())?,
            settings,
            clock,
            session: SessionSlot::default(),
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
        let ticket = self.session.begin();
        let body = self.preflight(&params)?;
        let reply = self
            .transport
            .post_json::<_, VerifyResponse>(paths::EXTERNAL_AUTH_SIGNIN, &body, None)
            .await?;
        self.learn_server_time(reply.server_date);
        let session = Session::from_response(&reply.body, 200)?;
        // Replaced only on success (a failed sign-in never loses the session the app had), and
        // only if no newer sign-in finished first.
        self.session.keep(ticket, session.clone())?;
        Ok(session.profile)
    }

    /// Checks the parameters on the device and builds the request body.
    fn preflight(
        &self,
        params: &SignInWithExternalJwtParams,
    ) -> Result<ExternalAuthSigninRequest, Error> {
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
        Ok(ExternalAuthSigninRequest {
            jwt: Some(jwt.to_owned()),
            session_public_key: params.session_public_key.clone(),
        })
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
        self.session.current().map(|s| s.profile)
    }

    pub fn tokens(&self) -> Option<Arc<SessionTokens>> {
        self.session.current().map(|s| s.tokens)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use base64::Engine as _;
    use serde_json::json;

    use super::*;
    use crate::preflight::PreflightError;

    const ENV: &str = "2762a57b-faa4-41ce-9f16-abff9300e2c9";
    const SERVER_NOW: i64 = 1_800_000_000;

    struct FixedClock(SystemTime);

    impl Clock for FixedClock {
        fn now(&self) -> SystemTime {
            self.0
        }
    }

    fn jwt(claims: serde_json::Value) -> String {
        let encode = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.c2lnbmF0dXJl",
            encode(json!({"alg": "RS256"})),
            encode(claims)
        )
    }

    fn params(token: String) -> SignInWithExternalJwtParams {
        SignInWithExternalJwtParams {
            external_jwt: format!("  {token}\n"),
            external_user_id: "u".into(),
            session_public_key: None,
        }
    }

    #[test]
    fn preflight_trusts_the_server_clock_once_it_is_known() {
        // The device clock runs two hours fast.
        let device = UNIX_EPOCH + Duration::from_secs((SERVER_NOW + 7200) as u64);
        let core = Core::with_clock(ClientConfig::new(ENV), Arc::new(FixedClock(device))).unwrap();
        let token = jwt(json!({"iss": "i", "sub": "u", "exp": SERVER_NOW + 600}));

        let before = core.preflight(&params(token.clone())).unwrap_err();
        assert!(matches!(
            before,
            Error::Preflight(PreflightError::Expired { .. })
        ));

        core.learn_server_time(Some(UNIX_EPOCH + Duration::from_secs(SERVER_NOW as u64)));
        let body = core
            .preflight(&params(token.clone()))
            .expect("valid on the server's clock");
        assert_eq!(
            body.jwt.as_deref(),
            Some(token.as_str()),
            "whitespace is trimmed"
        );
    }
}
