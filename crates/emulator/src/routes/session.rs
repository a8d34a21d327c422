//! Routes authenticated by the Dynamic session token (`Authorization: Bearer <minifiedJwt>`):
//! refresh, revoke, session check and current user (contract §4.1-§4.4).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dynamic_byoa_contract::DynamicSessionClaims;
use dynamic_byoa_contract::headers::{X_DYN_LOGOUT_REASON, X_DYN_VERSION};
use jsonwebtoken::errors::ErrorKind;

use super::reply;
use super::signin::header_text;
use crate::config::EnvironmentConfig;
use crate::server::Shared;
use crate::state::{SessionRecord, UserRecord};
use crate::tokens::{Grant, sdk_user, token_issuer};

/// `POST refresh`: a new token (new `exp`) for the same session and session key.
pub(super) async fn refresh(
    State(shared): State<Arc<Shared>>,
    Extension(env): Extension<Arc<EnvironmentConfig>>,
    headers: HeaderMap,
) -> Response {
    let (session, user) = match authenticate(&shared, &env, &headers) {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let bound = session.device_public_key.as_deref();
    if let Err(refusal) = super::check_device(&shared, &env, &headers, bound) {
        return reply::device_signature_rejected(refusal);
    }
    let session = {
        let mut state = shared.state();
        let env_state = state
            .env_mut(&env.environment_id)
            .expect("configured environment");
        env_state.set_sdk_version(&session.sid, header_text(&headers, X_DYN_VERSION));
        env_state
            .active_session(&session.sid)
            .map_or(session, |(s, _)| s)
    };
    let minter = shared.minter(&env);
    let grant = Grant {
        user,
        session,
        new_user: false,
    };
    Json(minter.verify_response(&grant)).into_response()
}

/// `POST revoke`: ends the session; 204. Records `x-dyn-logout-reason` for tests.
pub(super) async fn revoke(
    State(shared): State<Arc<Shared>>,
    Extension(env): Extension<Arc<EnvironmentConfig>>,
    headers: HeaderMap,
) -> Response {
    let (session, _) = match authenticate(&shared, &env, &headers) {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let mut state = shared.state();
    let env_state = state
        .env_mut(&env.environment_id)
        .expect("configured environment");
    env_state.revoke(&session.sid);
    if let Some(reason) = header_text(&headers, X_DYN_LOGOUT_REASON) {
        env_state.last_logout_reason = Some(reason);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET session`: 204 while the session is valid.
pub(super) async fn check(
    State(shared): State<Arc<Shared>>,
    Extension(env): Extension<Arc<EnvironmentConfig>>,
    headers: HeaderMap,
) -> Response {
    match authenticate(&shared, &env, &headers) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// `GET users`: the session's `SdkUser`.
pub(super) async fn current_user(
    State(shared): State<Arc<Shared>>,
    Extension(env): Extension<Arc<EnvironmentConfig>>,
    headers: HeaderMap,
) -> Response {
    match authenticate(&shared, &env, &headers) {
        Ok((session, user)) => {
            Json(sdk_user(&env.environment_id, &user, &session, None)).into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// Why a bearer token was refused; becomes a 401 `{error}`.
pub(super) struct Unauthorized(&'static str);

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        reply::unauthorized(self.0)
    }
}

/// The live session named by the bearer token. The token must be signed by the emulator's key
/// (RS256), unexpired (with leeway), issued for this environment, and its session not revoked.
pub(super) fn authenticate(
    shared: &Shared,
    env: &EnvironmentConfig,
    headers: &HeaderMap,
) -> Result<(SessionRecord, UserRecord), Unauthorized> {
    let token = bearer_token(headers).ok_or(Unauthorized("No jwt provided!"))?;
    let bearer: BearerClaims = shared
        .key(&env.environment_id)
        .verify(token, shared.leeway, shared.now())
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => Unauthorized("Session token has expired"),
            _ => Unauthorized("Invalid session token"),
        })?;
    // Both tokens are signed by the same key; only the access token (minifiedJwt) is a bearer.
    if bearer.verified_credentials.is_some() {
        return Err(Unauthorized(
            "The ID token (jwt) is not a bearer token; send minifiedJwt",
        ));
    }
    let claims = bearer.session;
    if claims.environment_id != env.environment_id
        || claims.iss != token_issuer(&shared.host, &env.environment_id)
    {
        return Err(Unauthorized("Session token belongs to another environment"));
    }
    shared
        .state()
        .env(&env.environment_id)
        .and_then(|env_state| env_state.active_session(&claims.sid))
        .filter(|(_, user)| user.id == claims.sub)
        .ok_or(Unauthorized("Session has been revoked"))
}

/// A verified bearer's claims. `verified_credentials` is present only in ID tokens.
#[derive(serde::Deserialize)]
struct BearerClaims {
    #[serde(flatten)]
    session: DynamicSessionClaims,
    verified_credentials: Option<serde::de::IgnoredAny>,
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_token_required() {
        assert_eq!(
            bearer_token(&with_authorization("Bearer a.b.c")),
            Some("a.b.c")
        );
        assert_eq!(
            bearer_token(&with_authorization("bearer  a.b.c ")),
            Some("a.b.c")
        );
        assert_eq!(bearer_token(&with_authorization("Basic abc")), None);
        assert_eq!(bearer_token(&with_authorization("Bearer ")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
