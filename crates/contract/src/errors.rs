//! Error bodies and codes (contract §3).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `code` of a 422 whose external JWT was rejected.
pub const CODE_INVALID_EXTERNAL_AUTH: &str = "invalid_external_auth";
/// `code` of a 422 whose `sessionPublicKey` is malformed (contract [I] from the enum name).
pub const CODE_INVALID_SESSION_PUBLIC_KEY: &str = "invalid_session_public_key";
/// Sandbox MAU cap; sent in the nested 403 shape (contract §3.3).
pub const CODE_SANDBOX_MAXIMUM_THRESHOLD_REACHED: &str = "sandbox_maximum_threshold_reached";
/// `code` of a 404 for an unknown environment.
pub const CODE_NOT_FOUND: &str = "not_found";

/// Any error body the SDK API sends, decoded leniently: `error` is a string in most shapes but an
/// object in `ForbiddenWithErrorAndPayload`; `code` is a string in most shapes but the number 429
/// in the rate limiter's `{message, code}` body. A body that is not JSON at all is also possible
/// (429), so callers treat a decode failure as "no body".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ApiErrorBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ErrorField {
    Text(String),
    Nested(NestedError),
}

/// The `error` object of `ForbiddenWithErrorAndPayload`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NestedError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ApiErrorBody {
    /// `{ "error": <text>, "code": <code> }`: 422 `UnprocessableEntity`, 404 `NotFound`.
    pub fn coded(error: impl Into<String>, code: &str) -> Self {
        Self {
            error: Some(ErrorField::Text(error.into())),
            code: Some(Value::String(code.to_owned())),
            ..Self::default()
        }
    }

    /// `{ "error": <text> }`: 400/401/500.
    pub fn text(error: impl Into<String>) -> Self {
        Self {
            error: Some(ErrorField::Text(error.into())),
            ..Self::default()
        }
    }

    /// `{ "error": { "code", "message" } }`: 403 `ForbiddenWithErrorAndPayload`.
    pub fn nested(code: &str, message: impl Into<String>) -> Self {
        Self {
            error: Some(ErrorField::Nested(NestedError {
                code: Some(code.to_owned()),
                message: Some(message.into()),
            })),
            ..Self::default()
        }
    }

    /// The rate limiter's `{ "message": "Rate limit exceeded", "code": 429 }`.
    pub fn rate_limited() -> Self {
        Self {
            message: Some("Rate limit exceeded".to_owned()),
            code: Some(Value::from(429)),
            ..Self::default()
        }
    }

    /// The machine-readable code, whether flat (`code`) or nested (`error.code`).
    pub fn code(&self) -> Option<&str> {
        match (&self.code, &self.error) {
            (Some(Value::String(code)), _) => Some(code),
            (
                _,
                Some(ErrorField::Nested(NestedError {
                    code: Some(code), ..
                })),
            ) => Some(code),
            _ => None,
        }
    }

    /// The human-readable text, from whichever field the shape uses.
    pub fn text_message(&self) -> Option<&str> {
        match &self.error {
            Some(ErrorField::Text(text)) => Some(text),
            Some(ErrorField::Nested(NestedError {
                message: Some(message),
                ..
            })) => Some(message),
            _ => self.message.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_every_documented_error_shape() {
        let flat: ApiErrorBody = serde_json::from_value(
            json!({"error": "Issuer (iss) does not match", "code": "invalid_external_auth"}),
        )
        .unwrap();
        assert_eq!(flat.code(), Some(CODE_INVALID_EXTERNAL_AUTH));
        assert_eq!(flat.text_message(), Some("Issuer (iss) does not match"));

        let nested: ApiErrorBody = serde_json::from_value(json!({
            "error": {"code": "sandbox_maximum_threshold_reached", "message": "cap"}
        }))
        .unwrap();
        assert_eq!(nested.code(), Some(CODE_SANDBOX_MAXIMUM_THRESHOLD_REACHED));
        assert_eq!(nested.text_message(), Some("cap"));

        let limiter: ApiErrorBody =
            serde_json::from_value(json!({"message": "Rate limit exceeded", "code": 429})).unwrap();
        assert_eq!(limiter.code(), None);
        assert_eq!(limiter.text_message(), Some("Rate limit exceeded"));
    }

    #[test]
    fn constructors_serialise_to_the_contract_shapes() {
        assert_eq!(
            serde_json::to_value(ApiErrorBody::coded("x", CODE_INVALID_EXTERNAL_AUTH)).unwrap(),
            json!({"error": "x", "code": "invalid_external_auth"})
        );
        assert_eq!(
            serde_json::to_value(ApiErrorBody::nested(
                CODE_SANDBOX_MAXIMUM_THRESHOLD_REACHED,
                "m"
            ))
            .unwrap(),
            json!({"error": {"code": "sandbox_maximum_threshold_reached", "message": "m"}})
        );
        assert_eq!(
            serde_json::to_value(ApiErrorBody::rate_limited()).unwrap(),
            json!({"message": "Rate limit exceeded", "code": 429})
        );
    }
}
