//! Injected faults: canned responses (or a dropped connection) served instead of the real
//! handler, so clients can be tested against 5xx, odd bodies and network failures.

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;

/// One injected response. Build with [`Fault::status`] or [`Fault::connection_drop`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Close the connection without any response instead (status, headers, body unused).
    pub drop_connection: bool,
}

impl Fault {
    /// A response with this status and an empty body.
    pub fn status(code: u16) -> Self {
        Self {
            status: code,
            headers: Vec::new(),
            body: String::new(),
            drop_connection: false,
        }
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A raw body; sent as `application/json` when it parses as JSON, else as plain text,
    /// unless a `content-type` header was given.
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON body, e.g. an `ApiErrorBody` from the contract.
    pub fn with_json(self, body: &impl Serialize) -> Self {
        self.with_body(serde_json::to_string(body).expect("fault body serialises"))
    }

    /// The server reads the request, then closes the connection without answering: the client
    /// sees a transport error ("connection closed before message completed").
    pub fn connection_drop() -> Self {
        Self {
            drop_connection: true,
            ..Self::status(0)
        }
    }

    /// The canned response. Invalid statuses become 500 and invalid headers are skipped: a
    /// fault must never take the server down.
    pub(crate) fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let content_type = if serde_json::from_str::<serde_json::Value>(&self.body).is_ok() {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        };
        let mut response = Response::new(Body::from(self.body.clone()));
        *response.status_mut() = status;
        if !self.body.is_empty() {
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_collects_status_headers_and_body() {
        let fault = Fault::status(429)
            .with_header("Retry-After", "7")
            .with_body("slow down");
        assert_eq!(fault.status, 429);
        assert_eq!(fault.headers, [("Retry-After".to_owned(), "7".to_owned())]);
        assert_eq!(fault.body, "slow down");
        assert!(!fault.drop_connection);
        assert!(Fault::connection_drop().drop_connection);
    }

    #[test]
    fn response_types_json_bodies_and_keeps_given_headers() {
        let response = Fault::status(503)
            .with_body("{\"error\":\"x\"}")
            .into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let text = Fault::status(429)
            .with_header("retry-after", "3")
            .with_body("Too many")
            .into_response();
        assert_eq!(text.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
        assert_eq!(text.headers()["retry-after"], "3");
        let custom = Fault::status(200)
            .with_body("{}")
            .with_header("content-type", "text/html")
            .into_response();
        assert_eq!(custom.headers()[CONTENT_TYPE], "text/html");
    }

    #[test]
    fn invalid_status_and_headers_do_not_panic() {
        let response = Fault::status(42)
            .with_header("bad header", "x")
            .into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().is_empty());
    }
}
