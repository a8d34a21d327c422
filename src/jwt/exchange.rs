//! The external-JWT exchange's parameters and the request body they become, after the
//! on-device preflight. The exchange itself is run by `client`.

use dynamic_byoa_contract::ExternalAuthSigninRequest;

use crate::error::Error;
use crate::jwt::preflight::{self, Expectations};
pub(crate) use crate::ports::provider::SignInWithExternalJwtParams;

/// Checks the parameters on the device (at `server_now`, unix seconds on the server's clock)
/// and builds the request body.
pub(crate) fn signin_body(
    params: &SignInWithExternalJwtParams,
    server_now: i64,
    leeway_seconds: u64,
) -> Result<ExternalAuthSigninRequest, Error> {
    let jwt = params.external_jwt.trim();
    preflight::check(
        jwt,
        Expectations {
            external_user_id: Some(&params.external_user_id),
            now: server_now,
            leeway_seconds,
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

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use serde_json::json;

    use super::*;
    use crate::jwt::preflight::PreflightError;

    const SERVER_NOW: i64 = 1_800_000_000;

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

    fn params(token: &str) -> SignInWithExternalJwtParams {
        SignInWithExternalJwtParams {
            external_jwt: format!("  {token}\n"),
            external_user_id: "u".into(),
            session_public_key: None,
        }
    }

    #[test]
    fn the_body_carries_the_trimmed_jwt_checked_at_the_given_server_time() {
        let token = jwt(json!({"iss": "i", "sub": "u", "exp": SERVER_NOW + 600}));
        let body = signin_body(&params(&token), SERVER_NOW, 60).expect("valid now");
        assert_eq!(
            body.jwt.as_deref(),
            Some(token.as_str()),
            "whitespace is trimmed"
        );
        let later = signin_body(&params(&token), SERVER_NOW + 7200, 60).unwrap_err();
        assert!(matches!(
            later,
            Error::Preflight(PreflightError::Expired { .. })
        ));
    }
}
