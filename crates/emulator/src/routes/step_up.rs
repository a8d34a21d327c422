//! `POST /sdk/{env}/externalAuth/verify` (contract §4.9): step-up. A signed-in user proves again,
//! with a fresh assertion from the app's own provider, that they are present, and gets a
//! short-lived elevated access token.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use dynamic_byoa_contract::claims::claim;
use dynamic_byoa_contract::{ExternalAuthAssertionResponse, ExternalAuthRejection};
use serde_json::{Map, Value};

use super::reply;
use super::session::authenticate;
use super::signin::{parse_body, policy};
use crate::config::EnvironmentConfig;
use crate::server::Shared;
use crate::state::UserRecord;
use crate::verify::{Rejection, verify_external_jwt_at};

/// Checks, in order: the session bearer (401), the body (400), the environment switch, then the
/// assertion exactly as sign-in checks an external JWT (same JWKS, `iss`, `aud`, time claims),
/// plus `sub` = the session's external user, `scope` and `jti` present, and `jti` unused.
pub(super) async fn verify(
    State(shared): State<Arc<Shared>>,
    Extension(env): Extension<Arc<EnvironmentConfig>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (session, user) = match authenticate(&shared, &env, &headers) {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let request = match parse_body(&body) {
        Ok(request) => request,
        Err(why) => return reply::bad_request(&why),
    };
    if !env.external_auth_enabled {
        return reply::external_auth_rejected(&Rejection::new(ExternalAuthRejection::Disabled, ""));
    }
    let Some(jwt) = request.jwt.as_deref().filter(|jwt| !jwt.trim().is_empty()) else {
        let rejection = Rejection::new(ExternalAuthRejection::Malformed, "the body has no jwt");
        return reply::external_auth_rejected(&rejection);
    };
    let verified =
        match verify_external_jwt_at(jwt, &policy(&shared, &env), &shared.jwks, shared.now()).await
        {
            Ok(verified) => verified,
            Err(rejection) => return reply::external_auth_rejected(&rejection),
        };
    let assertion = match Assertion::read(&verified.sub, &verified.claims, &user) {
        Ok(assertion) => assertion,
        Err(rejection) => return reply::external_auth_rejected(&rejection),
    };
    let now = shared.now();
    let fresh = shared
        .state()
        .env_mut(&env.environment_id)
        .expect("configured environment has state")
        .use_assertion_id(
            &assertion.jti,
            assertion.exp + shared.leeway.as_secs() as i64,
            now,
        );
    if !fresh {
        return reply::external_auth_rejected(&Rejection::new(ExternalAuthRejection::Replayed, ""));
    }
    let token = shared.minter(&env).elevated_token(
        &user,
        &session,
        &assertion.scope,
        assertion.single_use,
        env.elevated_token_ttl,
    );
    Json(ExternalAuthAssertionResponse {
        elevated_access_token: token,
    })
    .into_response()
}

/// What a verified assertion asks for.
struct Assertion {
    scope: String,
    jti: String,
    /// `exp`, which the verification already required.
    exp: i64,
    /// The assertion's `singleUse` claim is literally `true`. How Dynamic decides single use is
    /// not in the contract [I]; the emulator lets the app's provider ask for it.
    single_use: bool,
}

impl Assertion {
    fn read(sub: &str, claims: &Map<String, Value>, user: &UserRecord) -> Result<Self, Rejection> {
        if sub != user.external_sub {
            return Err(Rejection::new(ExternalAuthRejection::SubjectMismatch, ""));
        }
        Ok(Self {
            scope: required_text(claims, claim::SCOPE)?,
            jti: required_text(claims, claim::JTI)?,
            exp: claims
                .get(claim::EXP)
                .and_then(Value::as_f64)
                .map_or(i64::MAX, |exp| exp as i64),
            single_use: claims.get(claim::SINGLE_USE) == Some(&Value::Bool(true)),
        })
    }
}

fn required_text(claims: &Map<String, Value>, name: &str) -> Result<String, Rejection> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            Rejection::new(
                ExternalAuthRejection::MissingClaim,
                format!("no {name:?} claim"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> UserRecord {
        UserRecord {
            id: "u-1".into(),
            external_sub: "ext-ada".into(),
            external_credential_id: "c-1".into(),
            email: None,
            email_verified: false,
            email_credential_id: "c-2".into(),
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn an_assertion_needs_the_session_user_a_scope_and_a_jti() {
        let good =
            claims(json!({"scope": "wallet:export", "jti": "j-1", "exp": 9, "singleUse": true}));
        let read = Assertion::read("ext-ada", &good, &user()).unwrap();
        assert_eq!(read.scope, "wallet:export");
        assert_eq!(read.exp, 9);
        assert!(read.single_use);
        let other = Assertion::read("ext-bob", &good, &user()).err().unwrap();
        assert_eq!(other.reason, ExternalAuthRejection::SubjectMismatch);
        for missing in ["scope", "jti"] {
            let mut partial = good.clone();
            partial.remove(missing);
            let refused = Assertion::read("ext-ada", &partial, &user()).err().unwrap();
            assert_eq!(refused.reason, ExternalAuthRejection::MissingClaim);
            assert!(refused.message().contains(missing), "{}", refused.message());
        }
    }

    #[test]
    fn single_use_is_granted_only_when_asked_literally() {
        let asked = |v: Value| {
            let c = claims(json!({"scope": "s", "jti": "j", "singleUse": v}));
            Assertion::read("ext-ada", &c, &user()).unwrap().single_use
        };
        assert!(asked(json!(true)));
        assert!(!asked(json!("true")));
        assert!(!asked(json!(false)));
    }
}
