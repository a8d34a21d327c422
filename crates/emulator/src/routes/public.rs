//! Unauthenticated routes: project settings (§4.8), the session-token JWKS (§4.6) and nonces
//! (§4.10).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Query, State};
use dynamic_byoa_contract::{JwksResponse, NonceResponse, NoncesResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::EnvironmentConfig;
use crate::server::Shared;

/// `GET settings`: a minimal `ProjectSettings`. The required top-level keys are present so
/// Dynamic's SDKs can load it; only `security` carries real values.
pub(super) async fn settings(Extension(env): Extension<Arc<EnvironmentConfig>>) -> Json<Value> {
    Json(json!({
        "chains": [],
        "kyc": [],
        "design": {},
        "general": {"displayName": "Dynamic BYOA emulator"},
        "privacy": {"collectIp": false},
        "sdk": {},
        "security": security_settings(&env),
        "environmentName": "sandbox",
        "providers": [],
        "networks": [],
    }))
}

fn security_settings(env: &EnvironmentConfig) -> Value {
    json!({
        "externalAuth": {
            "enabled": env.external_auth_enabled,
            "iss": env.issuer,
            "aud": env.audience,
            "jwksUrl": env.jwks_url,
            "cookieName": null,
            "assumeEmailVerified": false,
        },
        "auth": {"storage": ["localstorage"]},
        "jwtDuration": {"amount": ttl_minutes(env), "unit": "minutes"},
        "deviceRegistrationRequired": false,
        "environmentLocked": false,
        "mfa": {"enabled": false, "required": false},
    })
}

/// The session lifetime in whole minutes, rounded up so a short TTL never reads as zero.
fn ttl_minutes(env: &EnvironmentConfig) -> u64 {
    env.session_ttl.as_secs().div_ceil(60).max(1)
}

/// `GET .well-known/jwks` and `.well-known/jwks.json`: the key that signs this environment's
/// session tokens.
pub(super) async fn jwks(
    State(shared): State<Arc<Shared>>,
    Extension(env): Extension<Arc<EnvironmentConfig>>,
) -> Json<JwksResponse> {
    Json(shared.key(&env.environment_id).jwks())
}

/// `GET nonce`.
pub(super) async fn nonce(
    State(shared): State<Arc<Shared>>,
    Extension(env): Extension<Arc<EnvironmentConfig>>,
) -> Json<NonceResponse> {
    let nonce = issue(&shared, &env, 1).pop();
    Json(NonceResponse { nonce })
}

#[derive(Deserialize)]
pub(super) struct NoncesQuery {
    /// Kept as text so a junk value falls back to the minimum instead of failing the request.
    count: Option<String>,
}

/// `GET nonces?count=n`, n clamped to 1..=20.
pub(super) async fn nonces(
    State(shared): State<Arc<Shared>>,
    Extension(env): Extension<Arc<EnvironmentConfig>>,
    Query(query): Query<NoncesQuery>,
) -> Json<NoncesResponse> {
    let count = query
        .count
        .and_then(|count| count.trim().parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, 20) as usize;
    Json(NoncesResponse {
        nonces: issue(&shared, &env, count),
    })
}

/// Fresh single-use nonces, valid for the environment's nonce lifetime (emulator clock).
fn issue(shared: &Shared, env: &EnvironmentConfig, count: usize) -> Vec<String> {
    let expires_at = shared.now() + env.nonce_ttl.as_secs() as i64;
    let mut state = shared.state();
    state
        .env_mut(&env.environment_id)
        .expect("configured environment")
        .issue_nonces(count, expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn settings_expose_the_external_auth_configuration() {
        let mut env = EnvironmentConfig::new(
            "2762a57b-faa4-41ce-9f16-abff9300e2c9",
            "https://issuer",
            "https://issuer/jwks",
        );
        env.session_ttl = Duration::from_secs(90);
        let security = security_settings(&env);
        assert_eq!(security["externalAuth"]["enabled"], true);
        assert_eq!(security["externalAuth"]["iss"], "https://issuer");
        assert_eq!(security["externalAuth"]["aud"], Value::Null);
        assert_eq!(security["externalAuth"]["jwksUrl"], "https://issuer/jwks");
        assert_eq!(
            security["jwtDuration"],
            json!({"amount": 2, "unit": "minutes"})
        );
        assert_eq!(security["auth"]["storage"], json!(["localstorage"]));
        assert_eq!(security["deviceRegistrationRequired"], false);
    }
}
