//! Permissive CORS, hand-written: Dynamic's JS SDK calls the API from browser origins, and every
//! SDK path has an OPTIONS twin (contract §0). Also echoes `x-dyn-request-id`, as Dynamic
//! appears to (contract §1.2).

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use dynamic_byoa_contract::headers::X_DYN_REQUEST_ID;

const ALLOWED_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";
/// Every header the JS clients send (contract §1.2), for preflights that do not list theirs.
const ALLOWED_HEADERS: &str = "authorization, content-type, x-dyn-version, x-dyn-api-version, \
    x-dyn-request-id, x-dyn-session-id, x-dyn-session-public-key, x-dyn-logout-reason, \
    x-dyn-elevated-access-token, x-dynamic-device-nonce, x-dynamic-device-publickey, \
    x-dynamic-device-signed-nonce, x-dynamic-platform, x-dyn-device-fingerprint, \
    x-dyn-is-global-wallet-popup, x-mfa-auth-token";
/// Response headers a browser client may read.
const EXPOSED_HEADERS: &str = "x-dyn-request-id, retry-after, date";

pub(super) async fn cors(request: Request, next: Next) -> Response {
    let origin = request.headers().get(ORIGIN).cloned();
    let request_id = request.headers().get(X_DYN_REQUEST_ID).cloned();
    let mut response = if request.method() == Method::OPTIONS {
        preflight(request.headers())
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    allow_origin(headers, origin);
    if let Some(request_id) = request_id {
        headers.insert(X_DYN_REQUEST_ID, request_id);
    }
    response
}

/// 204 for any OPTIONS request: the emulator never refuses a cross-origin caller.
fn preflight(request_headers: &HeaderMap) -> Response {
    let allowed_headers = request_headers
        .get(ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static(ALLOWED_HEADERS));
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, allowed_headers);
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    response
}

/// Echoes the caller's origin (with credentials, for cookie mode) or allows any origin.
fn allow_origin(headers: &mut HeaderMap, origin: Option<HeaderValue>) {
    match origin {
        Some(origin) => {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            headers.append(VARY, HeaderValue::from_static("Origin"));
        }
        None => {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
    }
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
}
