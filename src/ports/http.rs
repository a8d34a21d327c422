//! The HTTP port: the one place the client hands a request to an HTTP stack.
//!
//! On a phone that stack is the platform's own (OkHttp on Android, URLSession on iOS), so that
//! the device's proxy, VPN, user-installed CAs, Network Security Config and App Transport
//! Security apply to this library as to the rest of the app; elsewhere it is reqwest
//! (`crate::network::reqwest_transport`, the `reqwest-transport` feature, on by default). Everything above the
//! port is the same Rust for every implementation (`crate::network`): request ids, retries and
//! their rules, the overall timeout, the body limit, the server clock, redirect refusal, the
//! HTTPS rule, redaction. An implementation only moves bytes.
//!
//! What an implementation must do: send exactly one request per `send` (no retries of its own),
//! never follow a redirect (return the 3xx as it came), honour `timeout_ms` and
//! `connect_timeout_ms` (a connection attempt that times out is `Connect`), stop when the future
//! is dropped (that is how the client cancels), and never log bodies or header values (they
//! carry tokens). It may stop reading a body once it exceeds `max_response_bytes`: the client
//! refuses any longer body whatever it is handed.

use std::sync::Arc;

use crate::support::redact::{REDACTED, scrub};

/// Sends one HTTP request for the client. Implemented by the platform layer (or by the app, to
/// route the client through its own HTTP stack); see the module docs for the rules.
#[uniffi::export(with_foreign)]
#[async_trait::async_trait]
pub trait HttpTransport: Send + Sync {
    /// Sends `request` once and returns the response as received, whatever its status (a 4xx,
    /// 5xx or 3xx is a response, not an error). Errors are for requests that got no response.
    async fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, HttpError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum HttpMethod {
    Get,
    Post,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

impl std::fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One header, in the order it is sent or was received. Printing it (Kotlin `toString`, Swift
/// `description`, Rust `Debug`) shows the name only: values carry the bearer token and cookies.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

impl std::fmt::Debug for HttpHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {REDACTED}", self.name)
    }
}

/// A request to send. An object, not a record, so that printing it (Kotlin `toString`, Swift
/// `description`, Rust `Debug`) shows no header value and no body: both carry tokens.
#[derive(uniffi::Object)]
#[uniffi::export(Debug, Display)]
pub struct HttpRequest {
    pub(crate) method: HttpMethod,
    pub(crate) url: String,
    pub(crate) headers: Vec<HttpHeader>,
    pub(crate) body: Vec<u8>,
    pub(crate) timeout_ms: i64,
    pub(crate) connect_timeout_ms: i64,
    pub(crate) max_response_bytes: i64,
}

/// The value of header `name` among `headers` (names compare case-insensitively).
pub(crate) fn find_header<'a>(headers: &'a [HttpHeader], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

#[uniffi::export]
impl HttpRequest {
    pub fn method(&self) -> HttpMethod {
        self.method
    }

    /// Absolute: `https://…`, or `http://` to a loopback host.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Every header to send, in order. Values include the bearer token: never log them.
    pub fn headers(&self) -> Vec<HttpHeader> {
        self.headers.clone()
    }

    /// The body; empty when the request has none. Never log it.
    pub fn body(&self) -> Vec<u8> {
        self.body.clone()
    }

    /// How long the whole exchange may take, connecting included, in milliseconds. The client
    /// also stops waiting then, and drops (cancels) the call.
    pub fn timeout_ms(&self) -> i64 {
        self.timeout_ms
    }

    /// How long making the connection may take, in milliseconds (at most `timeout_ms`). A
    /// connection attempt that runs out of it is `HttpError::Connect`: the server never saw the
    /// request, so the client may send it again within `timeout_ms`.
    pub fn connect_timeout_ms(&self) -> i64 {
        self.connect_timeout_ms
    }

    /// The largest body the client accepts; reading may stop once a body is longer.
    pub fn max_response_bytes(&self) -> i64 {
        self.max_response_bytes
    }
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|h| h.name.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("header_names", &names)
            .field("header_values", &REDACTED)
            .field("body_bytes", &self.body.len())
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl std::fmt::Display for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HttpRequest({} {}, {} headers, {} body bytes)",
            self.method,
            self.url,
            self.headers.len(),
            self.body.len()
        )
    }
}

/// A response as the HTTP stack received it. Printing it shows the status, the header names and
/// the body's length: header values and the body carry tokens.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug)]
pub struct HttpResponse {
    /// The status code as received (the client refuses anything outside 100-599).
    pub status: i32,
    /// Every header as received, in order; names in any case.
    pub headers: Vec<HttpHeader>,
    pub body: Vec<u8>,
    /// The URL that answered, if the stack reports it. The client refuses a response from any
    /// URL but the one it asked for: it means the stack followed a redirect.
    #[uniffi(default)]
    pub url: Option<String>,
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .field("url", &self.url)
            .finish()
    }
}

/// Why a request got no response. `detail` is for logs and errors: the client scrubs it, but an
/// implementation should not put request contents in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum HttpError {
    /// No connection could be made (DNS, refused, unreachable, no network, or the connection
    /// attempt ran out of `connect_timeout_ms`). The server never saw the request, so the client
    /// may send it again.
    #[error("connection failed: {detail}")]
    Connect { detail: String },
    /// `timeout_ms` elapsed.
    #[error("timed out: {detail}")]
    Timeout { detail: String },
    /// The TLS handshake or the certificate check failed.
    #[error("TLS failure: {detail}")]
    Tls { detail: String },
    /// The platform cancelled the request (say, the app's HTTP client was shut down).
    #[error("cancelled: {detail}")]
    Cancelled { detail: String },
    /// Anything else, including a connection that broke after the request was sent.
    #[error("connection broke: {detail}")]
    Other { detail: String },
}

impl HttpError {
    /// The implementation's text, scrubbed of anything token-shaped.
    pub(crate) fn scrubbed_detail(&self) -> String {
        match self {
            Self::Connect { detail }
            | Self::Timeout { detail }
            | Self::Tls { detail }
            | Self::Cancelled { detail }
            | Self::Other { detail } => scrub(detail),
        }
    }

    /// A few words for logs.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "connection failed",
            Self::Timeout { .. } => "timed out",
            Self::Tls { .. } => "TLS failure",
            Self::Cancelled { .. } => "cancelled",
            Self::Other { .. } => "connection broke",
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for HttpError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Other {
            detail: scrub(&error.reason),
        }
    }
}
