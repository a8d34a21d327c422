//! What a successful sign-in or refresh returns: the `SdkUser`, the RS256 access token
//! (`minifiedJwt`, contract §4.7 MinifiedDynamicJwt) and the ID token (`jwt`, DynamicJwt).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dynamic_byoa_contract::{
    DynamicIdTokenClaims, DynamicSessionClaims, ElevatedAccessTokenClaims, JwtVerifiedCredential,
    SCOPE_USER_BASIC, SdkUser, VerifyResponse, credential_format,
};

use crate::keys::SigningKey;
use crate::state::{SessionRecord, UserRecord};

/// A session being handed out, by sign-in (`new_user` may be true) or refresh.
pub(crate) struct Grant {
    pub user: UserRecord,
    pub session: SessionRecord,
    pub new_user: bool,
}

/// Where and for how long tokens are minted.
pub(crate) struct Minter<'a> {
    pub key: &'a SigningKey,
    /// `host:port` of the emulator, the first half of [`token_issuer`].
    pub host: &'a str,
    pub environment_id: &'a str,
    pub ttl: Duration,
    /// Unix seconds on the emulator's clock.
    pub now: i64,
}

impl Minter<'_> {
    /// The 200 body of sign-in and refresh. `expiresAt` equals the access token's `exp`.
    pub(crate) fn verify_response(&self, grant: &Grant) -> VerifyResponse {
        let claims = self.session_claims(grant, self.now);
        let id_claims = DynamicIdTokenClaims {
            session: claims.clone(),
            verified_credentials: verified_credentials(&grant.user),
            missing_fields: Vec::new(),
            new_user: Some(grant.new_user),
        };
        VerifyResponse {
            user: sdk_user(
                self.environment_id,
                &grant.user,
                &grant.session,
                Some(grant.new_user),
            ),
            expires_at: claims.exp,
            minified_jwt: Some(self.key.sign(&claims)),
            jwt: Some(self.key.sign(&id_claims)),
            mfa_token: None,
            elevated_access_token: None,
        }
    }

    /// An elevated access token (contract §4.9) for the session: `scope` as the assertion
    /// asked, `exp` after `ttl`, `singleUse` when asked. Signed with the session key, so a client
    /// can check it against the same JWKS as its session token.
    pub(crate) fn elevated_token(
        &self,
        user: &UserRecord,
        session: &SessionRecord,
        scope: &str,
        single_use: bool,
        ttl: Duration,
    ) -> String {
        let claims = ElevatedAccessTokenClaims {
            scope: scope.to_owned(),
            exp: self.now + ttl.as_secs() as i64,
            single_use: single_use.then_some(true),
            sub: Some(user.id.clone()),
            environment_id: Some(self.environment_id.to_owned()),
            sid: Some(session.sid.clone()),
            iss: Some(token_issuer(self.host, self.environment_id)),
            iat: Some(self.now),
            jti: Some(crate::ids::random_uuid()),
        };
        self.key.sign(&claims)
    }

    fn session_claims(&self, grant: &Grant, now: i64) -> DynamicSessionClaims {
        let (user, session) = (&grant.user, &grant.session);
        DynamicSessionClaims {
            kid: self.key.kid().to_owned(),
            aud: session.aud.clone(),
            iss: token_issuer(self.host, self.environment_id),
            sub: user.id.clone(),
            sid: session.sid.clone(),
            environment_id: self.environment_id.to_owned(),
            last_verified_credential_id: user.external_credential_id.clone(),
            exp: now + self.ttl.as_secs() as i64,
            iat: now,
            signin_credential_id: Some(user.external_credential_id.clone()),
            session_public_key: session.session_public_key.clone(),
            scope: Some(SCOPE_USER_BASIC.to_owned()),
            email: user.email.clone(),
            sdk_version: session.sdk_version.clone(),
            refresh_exp: None,
        }
    }
}

/// `iss` of the emulator's tokens: `<host:port>/<environment id>`, like Dynamic's
/// `app.dynamic.xyz/<environment id>`.
pub(crate) fn token_issuer(host: &str, environment_id: &str) -> String {
    format!("{host}/{environment_id}")
}

/// `SdkUser` as Dynamic returns it for this session. `new_user` is only sent on sign-in and
/// refresh.
pub(crate) fn sdk_user(
    environment_id: &str,
    user: &UserRecord,
    session: &SessionRecord,
    new_user: Option<bool>,
) -> SdkUser {
    SdkUser {
        id: user.id.clone(),
        project_environment_id: environment_id.to_owned(),
        verified_credentials: verified_credentials(user),
        session_id: Some(session.sid.clone()),
        last_verified_credential_id: Some(user.external_credential_id.clone()),
        email: user.email.clone(),
        new_user,
        scope: Some(SCOPE_USER_BASIC.to_owned()),
        ..SdkUser::default()
    }
}

/// The BYOA credential (`externalUser`, its `public_identifier` the external `sub`), plus an
/// `email` credential when the last sign-in carried a verified email (contract §2.2).
fn verified_credentials(user: &UserRecord) -> Vec<JwtVerifiedCredential> {
    let external = JwtVerifiedCredential {
        id: user.external_credential_id.clone(),
        format: credential_format::EXTERNAL_USER.to_owned(),
        sign_in_enabled: true,
        public_identifier: Some(user.external_sub.clone()),
        ..JwtVerifiedCredential::default()
    };
    let email = user
        .email
        .as_ref()
        .filter(|_| user.email_verified)
        .map(|email| JwtVerifiedCredential {
            id: user.email_credential_id.clone(),
            format: credential_format::EMAIL.to_owned(),
            sign_in_enabled: true,
            email: Some(email.clone()),
            public_identifier: Some(email.clone()),
            ..JwtVerifiedCredential::default()
        });
    std::iter::once(external).chain(email).collect()
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::tests::shared_key;
    use serde_json::{Value, json};

    fn grant(email_verified: bool) -> Grant {
        Grant {
            user: UserRecord {
                id: "user-1".into(),
                external_sub: "ext-1".into(),
                external_credential_id: "cred-1".into(),
                email: Some("a@x.io".into()),
                email_verified,
                email_credential_id: "cred-email".into(),
            },
            session: SessionRecord {
                sid: "sid-1".into(),
                user_id: "user-1".into(),
                session_public_key: Some(format!("02{}", "ab".repeat(32))),
                aud: "https://app.example".into(),
                sdk_version: Some("ClientSDK/1.0".into()),
                revoked: false,
                device_public_key: None,
            },
            new_user: true,
        }
    }

    fn minter(key: &SigningKey) -> Minter<'_> {
        Minter {
            key,
            host: "127.0.0.1:4000",
            environment_id: "env-1",
            ttl: Duration::from_secs(3600),
            now: unix_now(),
        }
    }

    #[test]
    fn access_token_carries_the_session_claims_and_expires_at_expires_at() {
        let key = shared_key();
        let response = minter(&key).verify_response(&grant(false));
        let claims: DynamicSessionClaims = key
            .verify(
                response.minified_jwt.as_deref().unwrap(),
                Duration::ZERO,
                unix_now(),
            )
            .unwrap();
        assert_eq!(claims.sub, "user-1");
        assert_eq!(claims.sid, "sid-1");
        assert_eq!(claims.iss, "127.0.0.1:4000/env-1");
        assert_eq!(claims.aud, "https://app.example");
        assert_eq!(claims.kid, key.kid());
        assert_eq!(claims.scope.as_deref(), Some("user:basic"));
        assert_eq!(claims.last_verified_credential_id, "cred-1");
        assert_eq!(claims.sdk_version.as_deref(), Some("ClientSDK/1.0"));
        assert!(claims.session_public_key.is_some());
        assert_eq!(claims.exp, response.expires_at);
        assert_eq!(claims.exp - claims.iat, 3600);
    }

    #[test]
    fn id_token_has_snake_case_profile_claims() {
        let key = shared_key();
        let response = minter(&key).verify_response(&grant(true));
        let claims: Value = key
            .verify(response.jwt.as_deref().unwrap(), Duration::ZERO, unix_now())
            .unwrap();
        assert_eq!(claims["new_user"], json!(true));
        assert_eq!(claims["environment_id"], "env-1");
        assert_eq!(
            claims["verified_credentials"][0]["public_identifier"],
            "ext-1"
        );
        assert_eq!(claims["verified_credentials"][1]["format"], "email");
        assert_eq!(claims["missing_fields"], json!([]));
    }

    #[test]
    fn email_credential_only_when_verified() {
        assert_eq!(verified_credentials(&grant(false).user).len(), 1);
        let both = verified_credentials(&grant(true).user);
        assert_eq!(both[1].email.as_deref(), Some("a@x.io"));
        assert!(both.iter().all(|c| c.sign_in_enabled));
    }

    #[test]
    fn sdk_user_serialises_with_the_contract_casing() {
        let g = grant(false);
        let user =
            serde_json::to_value(sdk_user("env-1", &g.user, &g.session, Some(true))).unwrap();
        assert_eq!(user["projectEnvironmentId"], "env-1");
        assert_eq!(user["sessionId"], "sid-1");
        assert_eq!(user["newUser"], true);
        assert_eq!(user["lastVerifiedCredentialId"], "cred-1");
        assert_eq!(user["verifiedCredentials"][0]["format"], "externalUser");
        assert_eq!(user["verifiedCredentials"][0]["signInEnabled"], true);
        assert_eq!(user["email"], "a@x.io");
    }
}
