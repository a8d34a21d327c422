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
    /// Elevated access tokens: true when the token may be used once only (contract §4.9).
    pub const SINGLE_USE: &str = "singleUse";
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

/// Claims of an elevated access token (`elevatedAccessToken` of `externalAuth/verify`, contract
/// §4.9): a short-lived JWT, sent later as `x-dyn-elevated-access-token`. The contract names
/// `scope`, `exp` and optional `singleUse`; everything else is optional here, because what else
/// Dynamic puts in it is not known [I]. The emulator adds the session core (`sub`, `sid`,
/// `environment_id`, `iss`, `iat`, `jti`) and signs it with the environment's session key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ElevatedAccessTokenClaims {
    /// Space-separated scopes the step-up grants.
    pub scope: String,
    pub exp: i64,
    #[serde(default, rename = "singleUse", skip_serializing_if = "Option::is_none")]
    pub single_use: Option<bool>,
    /// Dynamic user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}
