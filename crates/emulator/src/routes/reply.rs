//! Error responses in the contract's shapes (§3.2).

use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::http::header::HeaderValue;
use axum::response::{IntoResponse, Response};
use dynamic_byoa_contract::headers::RETRY_AFTER;
use dynamic_byoa_contract::{
    ApiErrorBody, CODE_INVALID_DEVICE_SIGNATURE, CODE_INVALID_EXTERNAL_AUTH,
    CODE_INVALID_SESSION_PUBLIC_KEY, CODE_NOT_FOUND, CODE_SANDBOX_MAXIMUM_THRESHOLD_REACHED,
    DeviceSignatureRejection,
};

use crate::verify::Rejection;

pub(super) fn error(status: StatusCode, body: ApiErrorBody) -> Response {
    (status, Json(body)).into_response()
}

/// 400 `{error}`.
pub(super) fn bad_request(text: &str) -> Response {
    error(StatusCode::BAD_REQUEST, ApiErrorBody::text(text))
}

/// 401 `{error}`: missing, invalid, expired or revoked session token.
pub(super) fn unauthorized(text: &str) -> Response {
    error(StatusCode::UNAUTHORIZED, ApiErrorBody::text(text))
}

/// 404 `{error, code}` for paths that exist nowhere.
pub(super) fn not_found(text: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        ApiErrorBody::coded(text, CODE_NOT_FOUND),
    )
}

/// 404 for an environment id this emulator does not serve.
pub(super) fn environment_not_found() -> Response {
    not_found("Environment not found")
}

/// 422 `invalid_external_auth` naming why the external JWT was refused.
pub(super) fn external_auth_rejected(rejection: &Rejection) -> Response {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        ApiErrorBody::coded(rejection.message(), CODE_INVALID_EXTERNAL_AUTH),
    )
}

/// 422 `invalid_session_public_key`.
pub(super) fn invalid_session_public_key() -> Response {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        ApiErrorBody::coded(
            "sessionPublicKey must be a compressed P-256 public key: 66 lowercase hex characters \
             starting with 02 or 03",
            CODE_INVALID_SESSION_PUBLIC_KEY,
        ),
    )
}

/// 422 `invalid_device_signature` naming what was wrong with the device proof (the status and
/// code are inferred, see `dynamic_byoa_contract::device`).
pub(super) fn device_signature_rejected(rejection: DeviceSignatureRejection) -> Response {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        ApiErrorBody::coded(rejection.message(), CODE_INVALID_DEVICE_SIGNATURE),
    )
}

/// 403 in the nested `ForbiddenWithErrorAndPayload` shape (contract §3.3).
pub(super) fn sandbox_cap_reached() -> Response {
    error(
        StatusCode::FORBIDDEN,
        ApiErrorBody::nested(
            CODE_SANDBOX_MAXIMUM_THRESHOLD_REACHED,
            "This sandbox environment has reached its maximum number of users",
        ),
    )
}

/// 429 with `Retry-After` in whole seconds (rounded up, at least 1) and the rate limiter's
/// `{message, code: 429}` body.
pub(super) fn rate_limited(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, ApiErrorBody::rate_limited());
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_at_least_one() {
        let header = |wait| rate_limited(wait).headers()[RETRY_AFTER].clone();
        assert_eq!(header(Duration::from_millis(1500)), "2");
        assert_eq!(header(Duration::from_secs(45)), "45");
        assert_eq!(header(Duration::ZERO), "1");
    }
}
