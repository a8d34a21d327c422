//! Routes of the SDK API, relative to the API base (`https://app.dynamicauth.com/api/v0`).
//! Every SDK route is `{base}/sdk/{environmentId}/...` (contract §0).

/// The production API base, `/api/v0` suffix included.
pub const DEFAULT_API_BASE_URL: &str = "https://app.dynamicauth.com/api/v0";

pub const EXTERNAL_AUTH_SIGNIN: &str = "externalAuth/signin";
pub const EXTERNAL_AUTH_VERIFY: &str = "externalAuth/verify";
pub const REFRESH: &str = "refresh";
pub const REVOKE: &str = "revoke";
pub const SESSION: &str = "session";
pub const USERS: &str = "users";
pub const SETTINGS: &str = "settings";
pub const JWKS: &str = ".well-known/jwks";
pub const JWKS_JSON: &str = ".well-known/jwks.json";
pub const NONCE: &str = "nonce";
pub const NONCES: &str = "nonces";

/// `{base}/sdk/{environment_id}/{route}`, with any trailing slash on `base` ignored.
pub fn sdk_url(base: &str, environment_id: &str, route: &str) -> String {
    format!(
        "{}/sdk/{}/{}",
        base.trim_end_matches('/'),
        environment_id,
        route
    )
}

/// True when `id` is a lowercase UUID, the only form the API accepts for an environment id
/// (pattern `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).
pub fn is_environment_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_url_joins_base_environment_and_route() {
        let env = "2762a57b-faa4-41ce-9f16-abff9300e2c9";
        assert_eq!(
            sdk_url("http://127.0.0.1:1/api/v0/", env, EXTERNAL_AUTH_SIGNIN),
            format!("http://127.0.0.1:1/api/v0/sdk/{env}/externalAuth/signin")
        );
    }

    #[test]
    fn environment_id_must_be_a_lowercase_uuid() {
        assert!(is_environment_id("2762a57b-faa4-41ce-9f16-abff9300e2c9"));
        assert!(!is_environment_id("2762A57B-FAA4-41CE-9F16-ABFF9300E2C9"));
        assert!(!is_environment_id("2762a57b-faa4-41ce-9f16-abff9300e2c"));
        assert!(!is_environment_id("2762a57bxfaa4-41ce-9f16-abff9300e2c9"));
        assert!(!is_environment_id(""));
    }
}
