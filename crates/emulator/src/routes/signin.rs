//! `POST /sdk/{env}/externalAuth/signin` (contract §1-§3): exchange an external JWT for a
//! Dynamic session.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::http::header::ORIGIN;
use axum::response::{IntoResponse, Response};
use dynamic_byoa_contract::ExternalAuthRejection;
use dynamic_byoa_contract::headers::X_DYN_VERSION;
use dynamic_byoa_contract::{ExternalAuthSigninRequest, is_session_public_key};

use super::reply;
use crate::config::EnvironmentConfig;
use crate::server::Shared;
use crate::tokens::Grant;
use crate::verify::{ExternalJwtPolicy, Rejection, VerifiedExternalJwt, verify_external_jwt_at};

/// Checks run in the order a real edge + API would: rate limit, body, environment switch,
/// session key format, device signature, external JWT, then the user cap.
pub(super) async fn signin(
    State(shared): State<Arc<Shared>>,
    Extension(env): Extension<Arc<EnvironmentConfig>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(wait) = admit(&shared, &env) {
        return reply::rate_limited(wait);
    }
    let request = match parse_body(&body) {
        Ok(request) => request,
        Err(why) => return reply::bad_request(&why),
    };
    if !env.external_auth_enabled {
        return reply::external_auth_rejected(&Rejection::new(ExternalAuthRejection::Disabled, ""));
    }
    if let Some(key) = &request.session_public_key
        && !is_session_public_key(key)
    {
        return reply::invalid_session_public_key();
    }
    let device_key = match super::check_device(&shared, &env, &headers, None) {
        Ok(key) => key,
        Err(refusal) => return reply::device_signature_rejected(refusal),
    };
    let Some(jwt) = request.jwt.as_deref().filter(|jwt| !jwt.trim().is_empty()) else {
        let rejection = Rejection::new(ExternalAuthRejection::Malformed, "the body has no jwt");
        return reply::external_auth_rejected(&rejection);
    };
    let policy = policy(&shared, &env);
    let verified = match verify_external_jwt_at(jwt, &policy, &shared.jwks, shared.now()).await {
        Ok(verified) => verified,
        Err(rejection) => return reply::external_auth_rejected(&rejection),
    };
    let Some(grant) = open_session(
        &shared,
        &env,
        &headers,
        &verified,
        request.session_public_key,
        device_key,
    ) else {
        return reply::sandbox_cap_reached();
    };
    let minter = shared.minter(&env);
    Json(minter.verify_response(&grant)).into_response()
}

fn admit(shared: &Shared, env: &EnvironmentConfig) -> Result<(), std::time::Duration> {
    let mut state = shared.state();
    let env_state = state
        .env_mut(&env.environment_id)
        .expect("configured environment has state");
    env_state.admit_signin(Instant::now(), env.signin_rate_limit_per_minute)
}

/// The JSON body; unknown fields are ignored, a missing or non-JSON body is a 400.
pub(super) fn parse_body(body: &[u8]) -> Result<ExternalAuthSigninRequest, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("A JSON request body is required".to_owned());
    }
    // serde's message would quote the offending value, which may be the token itself.
    serde_json::from_slice(body).map_err(|e| {
        format!(
            "The request body is not a JSON object with a string jwt (line {}, column {})",
            e.line(),
            e.column()
        )
    })
}

pub(super) fn policy(shared: &Shared, env: &EnvironmentConfig) -> ExternalJwtPolicy {
    ExternalJwtPolicy {
        issuer: env.issuer.clone(),
        jwks_url: env.jwks_url.clone(),
        audience: env.audience.clone(),
        leeway: shared.leeway,
    }
}

/// Finds or creates the user and opens a session; `None` when the sandbox cap forbids a new user.
fn open_session(
    shared: &Shared,
    env: &EnvironmentConfig,
    headers: &HeaderMap,
    verified: &VerifiedExternalJwt,
    session_public_key: Option<String>,
    device_public_key: Option<String>,
) -> Option<Grant> {
    let mut state = shared.state();
    let env_state = state
        .env_mut(&env.environment_id)
        .expect("configured environment has state");
    let (user, new_user) = env_state.upsert_user(verified, env.max_users).ok()?;
    let aud = header_text(headers, ORIGIN.as_str()).unwrap_or_else(|| env.environment_id.clone());
    let session = env_state.open_session(
        &user.id,
        session_public_key,
        aud,
        header_text(headers, X_DYN_VERSION),
    );
    env_state.set_device_key(&session.sid, device_public_key.clone());
    let session = crate::state::SessionRecord {
        device_public_key,
        ..session
    };
    Some(Grant {
        user,
        session,
        new_user,
    })
}

/// A non-empty, visible-ASCII header value.
pub(super) fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_must_be_json_but_unknown_fields_are_ignored() {
        assert!(parse_body(b"").is_err());
        assert!(parse_body(b"not json").is_err());
        let request = parse_body(br#"{"jwt": "a.b.c", "externalUserId": "x"}"#).unwrap();
        assert_eq!(request.jwt.as_deref(), Some("a.b.c"));
        assert!(parse_body(b"{}").unwrap().jwt.is_none());
        let quoted_token =
            parse_body(br#""eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln""#).unwrap_err();
        assert!(!quoted_token.contains("eyJ"), "{quoted_token}");
    }
}
