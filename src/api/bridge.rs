//! The React Native bridge payloads, computed once for both native modules.
//!
//! A TurboModule hands JavaScript plain values: a promise resolves with a value or rejects with
//! `(code, message, userInfo)`, and an event carries one payload. Kotlin and Swift would each
//! have to turn every `ByoaError` variant, `AuthState` and `UserProfile` into those shapes; here
//! they are built once, as JSON text, so the two native modules only forward strings and the
//! TypeScript layer is tested against exactly what the phones send.
//!
//! Shapes (the TypeScript package parses them; `react-native/src` has their types):
//! - keys are camelCase; enumerated values (codes, categories, reasons, kinds) are the stable
//!   snake_case strings the Rust API prints, except `status` (camelCase, a TypeScript union tag)
//!   and credential `format` (Dynamic's own wire value, e.g. `externalUser`);
//! - instants are epoch milliseconds (`expiresAtMs`), as everywhere in the exported API;
//! - nothing here carries a token: errors and states never hold one, and the elevated token is
//!   read separately (`elevated_access_token`).

use serde_json::{Map, Value, json};

use crate::error::ByoaError;
use crate::jwt::step_up::ElevatedAccess;
use crate::ports::key_signer::KeySignerError;
use crate::ports::storage::StorageError;
use crate::session::events::AuthState;
use crate::session::{SignedInSession, UserProfile, VerifiedCredential};
use crate::support::redact::scrub;

/// What a React Native module rejects a promise with: `reject(code, message, userInfo)`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BridgeRejection {
    /// `ByoaError::code()`, e.g. `external_auth_rejected`.
    pub code: String,
    /// The error's human text (its `Display`).
    pub message: String,
    /// A JSON object: `code`, `category`, `isRetryable`, and the variant's fields in camelCase
    /// (`reason`, `serverDetail`, `retryAfterSeconds`, ...; `cause` for a nested store or key
    /// error).
    pub user_info_json: String,
}

/// The rejection a native module passes to JavaScript for `error`.
#[uniffi::export]
pub fn bridge_rejection(error: ByoaError) -> BridgeRejection {
    BridgeRejection {
        code: error.code(),
        // Public errors are built from scrubbed texts already; scrubbing again costs little and
        // keeps this true for an error the app constructed itself.
        message: scrub(&error.to_string()),
        user_info_json: Value::Object(error_user_info(&error)).to_string(),
    }
}

/// The payload of a state event: `{"status": "restoring" | "signedOut" | "signedIn" |
/// "storageUnavailable", ...}`.
#[uniffi::export]
pub fn bridge_state_json(state: AuthState) -> String {
    state_value(&state).to_string()
}

/// What a sign-in or refresh resolves with: `{"user": {...}, "expiresAtMs": n}`.
#[uniffi::export]
pub fn bridge_session_json(session: SignedInSession) -> String {
    session_value(&session).to_string()
}

/// What a step-up resolves with: `{"scopes": [...], "expiresAtMs": n, "singleUse": bool}`.
#[uniffi::export]
pub fn bridge_elevated_access_json(access: ElevatedAccess) -> String {
    json!({
        "scopes": access.scopes,
        "expiresAtMs": access.expires_at_ms,
        "singleUse": access.single_use,
    })
    .to_string()
}

fn error_user_info(error: &ByoaError) -> Map<String, Value> {
    let mut info = Map::new();
    info.insert("code".into(), error.code_str().into());
    info.insert("category".into(), error.category().as_str().into());
    info.insert("isRetryable".into(), error.is_retryable().into());
    let fields = error_fields(error);
    info.extend(fields.as_object().cloned().unwrap_or_default());
    info
}

/// The variant's own fields, camelCase. Exhaustive on purpose: a new variant must say what it
/// carries across the bridge.
fn error_fields(error: &ByoaError) -> Value {
    use ByoaError as E;
    match error {
        E::EmptyJwt
        | E::InvalidSessionPublicKey
        | E::SessionKeyMismatch
        | E::SignInSuperseded
        | E::SignInCancelled
        | E::NotSignedIn
        | E::SessionChanged => json!({}),
        E::MalformedJwt { detail }
        | E::DeviceNonceUnavailable { detail }
        | E::Internal { detail } => json!({ "detail": detail }),
        E::JwtNotJson { segment } => json!({ "segment": segment }),
        E::JwtTooLarge { size, limit } => json!({ "size": size, "limit": limit }),
        E::UnsupportedAlgorithm { alg } => json!({ "alg": alg }),
        E::MissingClaim { claim } => json!({ "claim": claim }),
        E::InvalidClaim { claim, expected } => json!({ "claim": claim, "expected": expected }),
        E::JwtExpired {
            expired_at_ms,
            now_ms,
            leeway_seconds,
        } => json!({
            "expiredAtMs": expired_at_ms,
            "nowMs": now_ms,
            "leewaySeconds": leeway_seconds,
        }),
        E::JwtNotYetValid {
            claim,
            valid_from_ms,
            now_ms,
            leeway_seconds,
        } => json!({
            "claim": claim,
            "validFromMs": valid_from_ms,
            "nowMs": now_ms,
            "leewaySeconds": leeway_seconds,
        }),
        E::ExternalUserIdMismatch {
            jwt_sub,
            external_user_id,
        } => json!({ "jwtSub": jwt_sub, "externalUserId": external_user_id }),
        E::ExternalAuthRejected {
            reason,
            server_detail,
        } => json!({ "reason": reason.to_string(), "serverDetail": server_detail }),
        E::DeviceSignatureRejected {
            reason,
            server_detail,
        } => json!({ "reason": reason.to_string(), "serverDetail": server_detail }),
        E::RateLimited {
            retry_after_seconds,
        } => json!({ "retryAfterSeconds": retry_after_seconds }),
        E::SandboxLimitReached { server_detail } | E::Unauthorized { server_detail } => {
            json!({ "serverDetail": server_detail })
        }
        E::EnvironmentNotFound { environment_id } => json!({ "environmentId": environment_id }),
        E::RequestRejected {
            status,
            code,
            server_detail,
        } => json!({ "status": status, "serverCode": code, "serverDetail": server_detail }),
        E::ServerError {
            status,
            server_detail,
        } => json!({ "status": status, "serverDetail": server_detail }),
        E::KeyUnavailable { error } => json!({ "cause": key_error_value(error) }),
        E::StorageUnavailable { error } => json!({ "cause": storage_error_value(error) }),
        E::Network { kind, detail } => json!({ "kind": kind.to_string(), "detail": detail }),
        E::InvalidResponse { status, detail } => json!({ "status": status, "detail": detail }),
        E::InvalidConfiguration { field, detail } => json!({ "field": field, "detail": detail }),
    }
}

fn storage_error_value(error: &StorageError) -> Value {
    match error.scrubbed() {
        StorageError::Unavailable { detail } => json!({ "kind": "unavailable", "detail": detail }),
        StorageError::Failed { detail } => json!({ "kind": "failed", "detail": detail }),
    }
}

fn key_error_value(error: &KeySignerError) -> Value {
    match error.scrubbed() {
        KeySignerError::Unavailable { detail } => {
            json!({ "kind": "unavailable", "detail": detail })
        }
        KeySignerError::NotFound { detail } => json!({ "kind": "not_found", "detail": detail }),
        KeySignerError::Failed { detail } => json!({ "kind": "failed", "detail": detail }),
    }
}

fn state_value(state: &AuthState) -> Value {
    match state {
        AuthState::Restoring => json!({ "status": "restoring" }),
        AuthState::SignedOut { reason } => json!({
            "status": "signedOut",
            "reason": reason.map(|r| r.as_str()),
        }),
        AuthState::SignedIn { session } => json!({
            "status": "signedIn",
            "session": session_value(session),
        }),
        AuthState::StorageUnavailable { error } => json!({
            "status": "storageUnavailable",
            "error": storage_error_value(error),
        }),
    }
}

fn session_value(session: &SignedInSession) -> Value {
    json!({
        "user": user_value(&session.user),
        "expiresAtMs": session.expires_at_ms,
    })
}

fn user_value(user: &UserProfile) -> Value {
    json!({
        "userId": user.user_id,
        "environmentId": user.environment_id,
        "sessionId": user.session_id,
        "externalUserId": user.external_user_id,
        "email": user.email,
        "username": user.username,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "phoneNumber": user.phone_number,
        "newUser": user.new_user,
        "scopes": user.scopes,
        "lastVerifiedCredentialId": user.last_verified_credential_id,
        "verifiedCredentials": user.verified_credentials.iter().map(credential_value).collect::<Vec<_>>(),
    })
}

fn credential_value(credential: &VerifiedCredential) -> Value {
    json!({
        "id": credential.id,
        // Dynamic's own string, so JavaScript sees what Dynamic's JavaScript SDK shows.
        "format": credential.format.wire_value(),
        "publicIdentifier": credential.public_identifier,
        "email": credential.email,
        "address": credential.address,
        "chain": credential.chain,
        "signInEnabled": credential.sign_in_enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{NetworkErrorKind, RejectionReason};
    use crate::session::CredentialFormat;
    use crate::session::events::SignOutReason;

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).expect("bridge payloads are JSON")
    }

    fn user() -> UserProfile {
        UserProfile {
            user_id: "u-1".into(),
            environment_id: "env".into(),
            session_id: Some("s-1".into()),
            external_user_id: Some("ext-1".into()),
            email: None,
            username: None,
            first_name: Some("Ada".into()),
            last_name: None,
            phone_number: None,
            new_user: true,
            scopes: vec!["user:basic".into()],
            last_verified_credential_id: Some("vc-1".into()),
            verified_credentials: vec![VerifiedCredential {
                id: "vc-1".into(),
                format: CredentialFormat::ExternalUser,
                public_identifier: Some("ext-1".into()),
                email: None,
                address: None,
                chain: None,
                sign_in_enabled: true,
            }],
        }
    }

    #[test]
    fn a_rejection_carries_code_text_category_and_the_variant_fields() {
        let rejection = bridge_rejection(ByoaError::ExternalAuthRejected {
            reason: RejectionReason::Audience,
            server_detail: "Audience (aud) does not match".into(),
        });
        assert_eq!(rejection.code, "external_auth_rejected");
        assert!(
            rejection.message.contains("audience"),
            "{}",
            rejection.message
        );
        assert_eq!(
            parse(&rejection.user_info_json),
            json!({
                "code": "external_auth_rejected",
                "category": "rejected",
                "isRetryable": false,
                "reason": "audience",
                "serverDetail": "Audience (aud) does not match",
            })
        );
    }

    #[test]
    fn a_rate_limit_is_retryable_and_keeps_its_delay_even_when_absent() {
        let with = parse(
            &bridge_rejection(ByoaError::RateLimited {
                retry_after_seconds: Some(30),
            })
            .user_info_json,
        );
        assert_eq!(with["isRetryable"], true);
        assert_eq!(with["category"], "retry_later");
        assert_eq!(with["retryAfterSeconds"], 30);
        let without = parse(
            &bridge_rejection(ByoaError::RateLimited {
                retry_after_seconds: None,
            })
            .user_info_json,
        );
        assert_eq!(without["retryAfterSeconds"], Value::Null);
    }

    #[test]
    fn nested_store_and_key_errors_become_a_cause() {
        let storage = parse(
            &bridge_rejection(ByoaError::StorageUnavailable {
                error: StorageError::Unavailable {
                    detail: "device locked".into(),
                },
            })
            .user_info_json,
        );
        assert_eq!(
            storage["cause"],
            json!({"kind": "unavailable", "detail": "device locked"})
        );
        let key = parse(
            &bridge_rejection(ByoaError::KeyUnavailable {
                error: KeySignerError::NotFound { detail: "k".into() },
            })
            .user_info_json,
        );
        assert_eq!(key["cause"]["kind"], "not_found");
        assert_eq!(key["category"], "sign_in_again");
    }

    #[test]
    fn a_network_error_names_its_kind() {
        let info = parse(
            &bridge_rejection(ByoaError::Network {
                kind: NetworkErrorKind::Timeout,
                detail: "overall request timeout elapsed".into(),
            })
            .user_info_json,
        );
        assert_eq!(info["kind"], "timeout");
        assert_eq!(info["category"], "network");
        assert_eq!(info["isRetryable"], true);
    }

    #[test]
    fn every_state_has_a_status_tag() {
        assert_eq!(
            parse(&bridge_state_json(AuthState::Restoring)),
            json!({"status": "restoring"})
        );
        assert_eq!(
            parse(&bridge_state_json(AuthState::SignedOut { reason: None })),
            json!({"status": "signedOut", "reason": null})
        );
        assert_eq!(
            parse(&bridge_state_json(AuthState::SignedOut {
                reason: Some(SignOutReason::RefreshUnauthorized)
            })),
            json!({"status": "signedOut", "reason": "refresh_unauthorized"})
        );
        let unavailable = parse(&bridge_state_json(AuthState::StorageUnavailable {
            error: StorageError::Failed {
                detail: "io".into(),
            },
        }));
        assert_eq!(unavailable["status"], "storageUnavailable");
        assert_eq!(
            unavailable["error"],
            json!({"kind": "failed", "detail": "io"})
        );
    }

    #[test]
    fn a_session_is_the_profile_in_camel_case_with_dynamic_credential_formats() {
        let session = SignedInSession {
            user: user(),
            expires_at_ms: 1_800_000_000_000,
        };
        let signed_in = parse(&bridge_state_json(AuthState::SignedIn {
            session: session.clone(),
        }));
        let value = parse(&bridge_session_json(session));
        assert_eq!(signed_in["session"], value);
        assert_eq!(value["expiresAtMs"], 1_800_000_000_000_i64);
        let user = &value["user"];
        assert_eq!(user["userId"], "u-1");
        assert_eq!(user["externalUserId"], "ext-1");
        assert_eq!(user["firstName"], "Ada");
        assert_eq!(user["email"], Value::Null);
        assert_eq!(user["newUser"], true);
        assert_eq!(user["scopes"], json!(["user:basic"]));
        assert_eq!(user["verifiedCredentials"][0]["format"], "externalUser");
        assert_eq!(user["verifiedCredentials"][0]["signInEnabled"], true);
    }

    #[test]
    fn an_elevated_access_is_its_scopes_expiry_and_use() {
        let value = parse(&bridge_elevated_access_json(ElevatedAccess {
            scopes: vec!["wallet:export".into()],
            expires_at_ms: 42,
            single_use: true,
        }));
        assert_eq!(
            value,
            json!({"scopes": ["wallet:export"], "expiresAtMs": 42, "singleUse": true})
        );
    }

    #[test]
    fn no_payload_repeats_a_token_looking_server_text() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let error = ByoaError::StorageUnavailable {
            error: StorageError::Failed {
                detail: format!("could not write {jwt}"),
            },
        };
        let rejection = bridge_rejection(error);
        assert!(!rejection.user_info_json.contains(jwt));
        assert!(!rejection.message.contains(jwt), "{}", rejection.message);
    }
}
