//! JWT claim names and the claims of Dynamic-issued session JWTs (contract §1.3, §4.7).
//! Claims are snake_case on the wire, unlike the camelCase JSON bodies.

use serde::{Deserialize, Serialize};

/// Registered claims the external JWT must or may carry (contract §1.3).
pub mod claim {
    pub const ISS: &str = "iss";
    pub const SUB: &str = "sub";
    pub const EXP: &str = "exp";
    pub const NBF: &str = "nbf";
    pub const IAT: &str = "iat";
    pub const AUD: &str = "aud";
    pub const EMAIL: &str = "email";
    pub const EMAIL_VERIFIED: &str = "emailVerified";
    pub const SCOPE: &str = "scope";
    pub const JTI: &str = "jti";
}

/// Claims of the access token (`minifiedJwt`, "MinifiedDynamicJwt") the emulator mints and a
/// client may check. The ID token (`jwt`) carries the same core plus profile claims.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DynamicSessionClaims {
    pub kid: String,
    /// The request's `Origin` (the app), or the environment id when no origin was sent.
    pub aud: String,
    /// "backend api host + environment id", e.g. `app.dynamic.xyz/<environment_id>`.
    pub iss: String,
    /// Dynamic user id (= `user.id`).
    pub sub: String,
    /// Dynamic session id (= `user.sessionId`).
    pub sid: String,
    pub environment_id: String,
    pub last_verified_credential_id: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signin_credential_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_public_key: Option<String>,
    /// Space-separated; contains `user:basic` for a complete session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(
        default,
        rename = "sdkVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub sdk_version: Option<String>,
    #[serde(
        default,
        rename = "refreshExp",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_exp: Option<i64>,
}

/// Claims of the ID token (`jwt`, "DynamicJwt"): the session core plus profile claims.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DynamicIdTokenClaims {
    #[serde(flatten)]
    pub session: DynamicSessionClaims,
    pub verified_credentials: Vec<crate::JwtVerifiedCredential>,
    pub missing_fields: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_user: Option<bool>,
}
