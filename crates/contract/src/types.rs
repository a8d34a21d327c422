//! Request and response bodies (contract §1.1, §2, §4.6).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Body of `POST /sdk/{env}/externalAuth/signin` and `externalAuth/verify`.
/// There is no `externalUserId` on the wire (contract §1.1).
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAuthSigninRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_public_key: Option<String>,
}

/// True when `key` is a `sessionPublicKey` as the contract defines it (§1.1): a compressed P-256
/// point in lowercase hex, `02`/`03` then 32 bytes, 66 characters in all.
pub fn is_session_public_key(key: &str) -> bool {
    key.len() == 66
        && (key.starts_with("02") || key.starts_with("03"))
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl std::fmt::Debug for ExternalAuthSigninRequest {
    // The external JWT is a bearer credential: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalAuthSigninRequest")
            .field("jwt", &self.jwt.as_ref().map(|_| "<redacted>"))
            .field("session_public_key", &self.session_public_key)
            .finish()
    }
}

/// 200 body of sign-in and refresh (contract §2). `expiresAt` is unix **seconds**.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResponse {
    pub user: SdkUser,
    pub expires_at: i64,
    /// The access token, used as `Authorization: Bearer`. Absent in cookie mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minified_jwt: Option<String>,
    /// The ID token. Absent in cookie mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elevated_access_token: Option<String>,
}

impl std::fmt::Debug for VerifyResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |t: &Option<String>| t.as_ref().map(|_| "<redacted>");
        f.debug_struct("VerifyResponse")
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .field("minified_jwt", &redact(&self.minified_jwt))
            .field("jwt", &redact(&self.jwt))
            .field("mfa_token", &redact(&self.mfa_token))
            .field(
                "elevated_access_token",
                &redact(&self.elevated_access_token),
            )
            .finish()
    }
}

/// `SdkUser` (contract §2.1): camelCase on the wire. Only the fields a client uses are typed;
/// everything else is ignored on decode.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SdkUser {
    pub id: String,
    pub project_environment_id: String,
    pub verified_credentials: Vec<JwtVerifiedCredential>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verified_credential_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_user: Option<bool>,
    /// Space-separated scopes, e.g. contains `user:basic` once fully authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_visit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_visit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// `JwtVerifiedCredential` (contract §2.2). The wire names are MIXED case: camelCase for most,
/// snake_case for `public_identifier`, `wallet_name`, `oauth_*` and a few more.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JwtVerifiedCredential {
    pub id: String,
    /// One of [`credential_format`]; kept as a string so a new server value never breaks decoding.
    pub format: String,
    pub sign_in_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_selected_at: Option<String>,
    #[serde(
        default,
        rename = "public_identifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub public_identifier: Option<String>,
    #[serde(
        default,
        rename = "wallet_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub wallet_name: Option<String>,
    #[serde(
        default,
        rename = "wallet_provider",
        skip_serializing_if = "Option::is_none"
    )]
    pub wallet_provider: Option<String>,
    #[serde(
        default,
        rename = "oauth_provider",
        skip_serializing_if = "Option::is_none"
    )]
    pub oauth_provider: Option<String>,
}

/// Values of `JwtVerifiedCredential.format` (contract §2.2).
pub mod credential_format {
    pub const BLOCKCHAIN: &str = "blockchain";
    pub const EMAIL: &str = "email";
    pub const OAUTH: &str = "oauth";
    pub const PASSKEY: &str = "passkey";
    pub const PHONE_NUMBER: &str = "phoneNumber";
    /// The BYOA credential; its `public_identifier` carries the external JWT's `sub` (contract
    /// marks that [I]: the only field that can hold it).
    pub const EXTERNAL_USER: &str = "externalUser";
    pub const TOTP: &str = "totp";
}

/// Scope every fully authenticated Dynamic session carries (contract §2.1).
pub const SCOPE_USER_BASIC: &str = "user:basic";

/// `JwksResponse` of `/.well-known/jwks` (contract §4.6): RSA keys only.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct JwksResponse {
    pub keys: Vec<JwksKey>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct JwksKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kty: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
}

/// 200 body of `POST externalAuth/verify` (`ExternalAuthAssertionResponse`, contract §4.9).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAuthAssertionResponse {
    pub elevated_access_token: String,
}

impl std::fmt::Debug for ExternalAuthAssertionResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalAuthAssertionResponse")
            .field("elevated_access_token", &"<redacted>")
            .finish()
    }
}

/// `GET nonce` / `GET nonces?count=n` bodies (contract §4.10).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NonceResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NoncesResponse {
    pub nonces: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn verify_response_decodes_the_contract_casing_and_ignores_unknown_fields() {
        let body = json!({
            "user": {
                "id": "u1", "projectEnvironmentId": "e1", "sessionId": "s1", "newUser": true,
                "someFutureField": {"x": 1},
                "verifiedCredentials": [{
                    "id": "c1", "format": "externalUser", "signInEnabled": true,
                    "public_identifier": "ext-42", "walletName": "ignored-camel-variant"
                }]
            },
            "expiresAt": 1715620310, "minifiedJwt": "a.b.c", "jwt": "d.e.f"
        });
        let parsed: VerifyResponse = serde_json::from_value(body).unwrap();
        assert_eq!(parsed.expires_at, 1715620310);
        assert_eq!(parsed.user.session_id.as_deref(), Some("s1"));
        let vc = &parsed.user.verified_credentials[0];
        assert_eq!(vc.public_identifier.as_deref(), Some("ext-42"));
        assert_eq!(
            vc.wallet_name, None,
            "wallet_name is snake_case on the wire"
        );
    }

    #[test]
    fn verify_response_without_required_fields_is_an_error_not_a_panic() {
        let missing_user = json!({"expiresAt": 1});
        assert!(serde_json::from_value::<VerifyResponse>(missing_user).is_err());
        let missing_credentials =
            json!({"user": {"id": "u", "projectEnvironmentId": "e"}, "expiresAt": 1});
        assert!(serde_json::from_value::<VerifyResponse>(missing_credentials).is_err());
    }

    #[test]
    fn signin_request_serialises_camel_case_and_omits_absent_fields() {
        let body = ExternalAuthSigninRequest {
            jwt: Some("x.y.z".into()),
            session_public_key: None,
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"jwt": "x.y.z"})
        );
        let with_key = ExternalAuthSigninRequest {
            jwt: None,
            session_public_key: Some("02ab".into()),
        };
        assert_eq!(
            serde_json::to_value(&with_key).unwrap(),
            json!({"sessionPublicKey": "02ab"})
        );
    }

    #[test]
    fn session_public_keys_are_compressed_p256_lowercase_hex() {
        let body = "ab".repeat(32);
        assert!(is_session_public_key(&format!("02{body}")));
        assert!(is_session_public_key(&format!("03{body}")));
        for bad in [
            format!("04{body}"),
            format!("02{}", body.to_uppercase()),
            format!("02{body}00"),
            format!("02{}", &body[2..]),
            format!("02{}zz", &body[2..]),
        ] {
            assert!(!is_session_public_key(&bad), "{bad}");
        }
    }

    #[test]
    fn debug_output_never_contains_tokens() {
        let response = VerifyResponse {
            user: SdkUser::default(),
            expires_at: 0,
            minified_jwt: Some("secret-access".into()),
            jwt: Some("secret-id".into()),
            mfa_token: None,
            elevated_access_token: None,
        };
        let printed = format!("{response:?}");
        assert!(!printed.contains("secret"), "{printed}");
        let request = ExternalAuthSigninRequest {
            jwt: Some("secret-external".into()),
            session_public_key: None,
        };
        assert!(!format!("{request:?}").contains("secret"));
    }
}
