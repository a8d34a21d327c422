//! The session layer: the signed-in session (the user profile apps may print, and the tokens
//! they may not), its state machine (`lifecycle`), the states and listeners apps see (`events`)
//! and the record kept between launches (`record`).
//!
//! May import: `device` (the session key), `error`, `ports`, `support`.

pub(crate) mod events;
pub(crate) mod lifecycle;
pub(crate) mod record;

use std::sync::Arc;

use dynamic_byoa_contract::{JwtVerifiedCredential, SdkUser, VerifyResponse, credential_format};

use crate::device::SessionKey;
use crate::error::Error;
use crate::support::redact::REDACTED;
use crate::support::time::{epoch_ms, rfc3339};
use record::{RECORD_SCHEMA, RECORD_VERSION, StoredSession, StoredUser};

/// The user Dynamic signed in. Every field is safe to log.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UserProfile {
    /// Dynamic's user id (stable for one external `sub`).
    pub user_id: String,
    pub environment_id: String,
    /// Dynamic's id of this session.
    pub session_id: Option<String>,
    /// The external user id (the external JWT's `sub`), from the `externalUser` credential.
    pub external_user_id: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
    /// True on the first sign-in of this user in this environment.
    pub new_user: bool,
    /// Scopes of the session, e.g. `user:basic`.
    pub scopes: Vec<String>,
    pub last_verified_credential_id: Option<String>,
    pub verified_credentials: Vec<VerifiedCredential>,
}

/// One way the user has proven who they are.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VerifiedCredential {
    pub id: String,
    pub format: CredentialFormat,
    /// The human-friendly identifier: the external `sub` for `ExternalUser`, an address for
    /// `Blockchain`, ...
    pub public_identifier: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub chain: Option<String>,
    pub sign_in_enabled: bool,
}

/// `format` of a verified credential. Unknown server values are kept, not dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum CredentialFormat {
    Blockchain,
    Email,
    Oauth,
    Passkey,
    PhoneNumber,
    ExternalUser,
    Totp,
    Other { value: String },
}

impl From<&str> for CredentialFormat {
    fn from(format: &str) -> Self {
        match format {
            credential_format::BLOCKCHAIN => Self::Blockchain,
            credential_format::EMAIL => Self::Email,
            credential_format::OAUTH => Self::Oauth,
            credential_format::PASSKEY => Self::Passkey,
            credential_format::PHONE_NUMBER => Self::PhoneNumber,
            credential_format::EXTERNAL_USER => Self::ExternalUser,
            credential_format::TOTP => Self::Totp,
            other => Self::Other {
                value: other.to_owned(),
            },
        }
    }
}

impl CredentialFormat {
    /// Dynamic's own `format` string (what the JavaScript SDK shows, and what the stored record
    /// keeps): the inverse of `From<&str>`.
    pub(crate) fn wire_value(&self) -> &str {
        match self {
            Self::Blockchain => credential_format::BLOCKCHAIN,
            Self::Email => credential_format::EMAIL,
            Self::Oauth => credential_format::OAUTH,
            Self::Passkey => credential_format::PASSKEY,
            Self::PhoneNumber => credential_format::PHONE_NUMBER,
            Self::ExternalUser => credential_format::EXTERNAL_USER,
            Self::Totp => credential_format::TOTP,
            Self::Other { value } => value,
        }
    }
}

impl From<&JwtVerifiedCredential> for VerifiedCredential {
    fn from(wire: &JwtVerifiedCredential) -> Self {
        Self {
            id: wire.id.clone(),
            format: wire.format.as_str().into(),
            public_identifier: wire.public_identifier.clone(),
            email: wire.email.clone(),
            address: wire.address.clone(),
            chain: wire.chain.clone(),
            sign_in_enabled: wire.sign_in_enabled,
        }
    }
}

impl From<&SdkUser> for UserProfile {
    fn from(user: &SdkUser) -> Self {
        let verified_credentials: Vec<VerifiedCredential> = user
            .verified_credentials
            .iter()
            .map(VerifiedCredential::from)
            .collect();
        let external_user_id = verified_credentials
            .iter()
            .find(|c| c.format == CredentialFormat::ExternalUser)
            .and_then(|c| c.public_identifier.clone());
        Self {
            user_id: user.id.clone(),
            environment_id: user.project_environment_id.clone(),
            session_id: user.session_id.clone(),
            external_user_id,
            email: user.email.clone(),
            username: user.username.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            phone_number: user.phone_number.clone(),
            new_user: user.new_user.unwrap_or(false),
            scopes: user
                .scope
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            last_verified_credential_id: user.last_verified_credential_id.clone(),
            verified_credentials,
        }
    }
}

/// What a successful sign-in returns: who is signed in and until when. The tokens stay with the
/// client (`auth().tokens()`), so this record is safe to print.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SignedInSession {
    pub user: UserProfile,
    /// When Dynamic's session ends (`expiresAt`, server time), in milliseconds since the Unix
    /// epoch.
    pub expires_at_ms: i64,
}

/// The Dynamic tokens of the current session. An object rather than a record so that printing
/// it (Kotlin `toString`, Swift `debugDescription`, Rust `Debug`) never shows a token: read them
/// only through the explicit accessors.
#[derive(uniffi::Object)]
#[uniffi::export(Debug, Display)]
pub struct SessionTokens {
    bearer: String,
    id_token: Option<String>,
    expires_at_ms: i64,
}

#[uniffi::export]
impl SessionTokens {
    /// The access token (`minifiedJwt`), sent as `Authorization: Bearer` to Dynamic and to the
    /// app's backend. Treat it as a password.
    pub fn bearer_token(&self) -> String {
        self.bearer.clone()
    }

    /// The ID token (`jwt`) with the user's full claims, when Dynamic returned one.
    pub fn id_token(&self) -> Option<String> {
        self.id_token.clone()
    }

    /// When the tokens expire (server time), in milliseconds since the Unix epoch.
    pub fn expires_at_ms(&self) -> i64 {
        self.expires_at_ms
    }
}

impl std::fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTokens")
            .field("bearer", &REDACTED)
            .field("id_token", &self.id_token.as_ref().map(|_| REDACTED))
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

impl std::fmt::Display for SessionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SessionTokens(expires_at={}, tokens {REDACTED})",
            rfc3339(self.expires_at_ms)
        )
    }
}

/// A session as the client keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub profile: SignedInSession,
    pub tokens: Arc<SessionTokens>,
    /// Server time (unix seconds) when the session was received: with `expires_at` it gives
    /// the session's lifetime, which bounds how early it is refreshed.
    pub received_at: i64,
    /// The session key the token is bound to (`device`), if any.
    pub session_key: Option<SessionKey>,
}

impl Session {
    /// Builds the session from a sign-in or refresh response received at `server_now`. A
    /// response without `minifiedJwt` (Dynamic's cookie mode) is refused: a native client has no
    /// cookie jar to hold the session, so such an environment cannot be used from here (safe
    /// reading of contract §2).
    pub fn from_response(
        response: &VerifyResponse,
        status: u16,
        server_now: i64,
    ) -> Result<Self, Error> {
        let bearer = response.minified_jwt.clone().filter(|t| !t.is_empty()).ok_or(Error::Incomplete {
            status,
            detail: "no minifiedJwt: the environment issues cookie sessions, which a native client cannot hold",
        })?;
        Ok(Self::assemble(
            bearer,
            response.jwt.clone(),
            response.expires_at,
            UserProfile::from(&response.user),
            server_now,
        ))
    }

    pub fn from_stored(record: StoredSession) -> Self {
        let session_key = record.session_key;
        Self {
            session_key,
            ..Self::assemble(
                record.token,
                record.id_token,
                record.expires_at,
                record.user.into(),
                record.received_at,
            )
        }
    }

    pub fn to_stored(&self, server_clock_offset_seconds: i64) -> StoredSession {
        StoredSession {
            schema: RECORD_SCHEMA.to_owned(),
            version: RECORD_VERSION,
            token: self.tokens.bearer.clone(),
            id_token: self.tokens.id_token.clone(),
            expires_at: self.expires_at_unix(),
            user: StoredUser::from(&self.profile.user),
            server_clock_offset_seconds,
            received_at: self.received_at,
            session_key: self.session_key.clone(),
        }
    }

    fn assemble(
        bearer: String,
        id_token: Option<String>,
        expires_at: i64,
        user: UserProfile,
        received_at: i64,
    ) -> Self {
        let expires_at_ms = epoch_ms(expires_at);
        Self {
            profile: SignedInSession {
                user,
                expires_at_ms,
            },
            tokens: Arc::new(SessionTokens {
                bearer,
                id_token,
                expires_at_ms,
            }),
            received_at,
            session_key: None,
        }
    }

    pub fn bearer(&self) -> &str {
        &self.tokens.bearer
    }

    pub fn user_id(&self) -> &str {
        &self.profile.user.user_id
    }

    /// Unix seconds (server time) at which the session ends.
    pub fn expires_at_unix(&self) -> i64 {
        self.profile.expires_at_ms.div_euclid(1000)
    }

    /// True when both are the same issued token (not merely the same user).
    pub fn same_token(&self, other: &Session) -> bool {
        self.tokens.bearer == other.tokens.bearer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response() -> VerifyResponse {
        serde_json::from_value(json!({
            "user": {
                "id": "u1", "projectEnvironmentId": "e1", "sessionId": "s1", "newUser": true,
                "scope": "user:basic other", "email": "a@example.com",
                "verifiedCredentials": [
                    {"id": "c1", "format": "externalUser", "signInEnabled": true, "public_identifier": "ext-1"},
                    {"id": "c2", "format": "somethingNew", "signInEnabled": false}
                ]
            },
            "expiresAt": 1_900_000_000, "minifiedJwt": "access.token.secret", "jwt": "id.token.secret"
        }))
        .unwrap()
    }

    #[test]
    fn the_profile_carries_the_user_and_the_external_user_id() {
        let session = Session::from_response(&response(), 200, 0).unwrap();
        let user = &session.profile.user;
        assert_eq!(user.user_id, "u1");
        assert_eq!(user.external_user_id.as_deref(), Some("ext-1"));
        assert_eq!(user.scopes, ["user:basic", "other"]);
        assert!(user.new_user);
        assert_eq!(
            user.verified_credentials[1].format,
            CredentialFormat::Other {
                value: "somethingNew".into()
            }
        );
        assert_eq!(session.profile.expires_at_ms, 1_900_000_000_000);
    }

    #[test]
    fn tokens_are_readable_only_through_accessors_and_never_printed() {
        let session = Session::from_response(&response(), 200, 0).unwrap();
        assert_eq!(session.tokens.bearer_token(), "access.token.secret");
        assert_eq!(
            session.tokens.id_token().as_deref(),
            Some("id.token.secret")
        );
        for printed in [
            format!("{:?}", session.tokens),
            session.tokens.to_string(),
            format!("{session:?}"),
        ] {
            assert!(!printed.contains("secret"), "{printed}");
        }
    }

    #[test]
    fn a_session_survives_the_stored_record_round_trip() {
        let session = Session::from_response(&response(), 200, 1_800_000_000).unwrap();
        let text = session.to_stored(-42).encode();
        assert!(text.starts_with(r#"{"schema":"dynamic-byoa.session","version":2,"#));
        let decoded = StoredSession::decode(&text).unwrap();
        assert_eq!(decoded.upgraded_from, None);
        let record = decoded.record;
        assert_eq!(record.server_clock_offset_seconds, -42);
        let restored = Session::from_stored(record);
        assert_eq!(restored.profile, session.profile);
        assert!(restored.same_token(&session));
        assert_eq!(restored.received_at, 1_800_000_000);
    }

    #[test]
    fn a_cookie_mode_response_without_a_bearer_is_refused() {
        let mut cookie_mode = response();
        cookie_mode.minified_jwt = None;
        assert!(matches!(
            Session::from_response(&cookie_mode, 200, 0),
            Err(Error::Incomplete { status: 200, .. })
        ));
    }
}
