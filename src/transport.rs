//! HTTP to Dynamic's SDK API: one pooled reqwest client per `DynamicClient`, the contract's
//! headers, a bounded retry policy, and error statuses turned into internal errors.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use dynamic_byoa_contract::headers::{
    API_VERSION, REQUEST_ID_LEN, RETRY_AFTER, X_DYN_API_VERSION, X_DYN_LOGOUT_REASON,
    X_DYN_REQUEST_ID, X_DYN_VERSION, X_DYNAMIC_DEVICE_NONCE,
};
use dynamic_byoa_contract::{ApiErrorBody, paths};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, DATE, HeaderMap, ORIGIN};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Settings;
use crate::error::{Error, is_tls};
use crate::logging::{self, LogLevel, log_at, target};

/// `x-dyn-version`: names this SDK and its version, as `ClientSDK/<version>` does for the JS client.
pub const SDK_VERSION_HEADER: &str = concat!("DynamicByoaNative/", env!("CARGO_PKG_VERSION"));

/// Retries after the first attempt, for failures a retry cannot turn into a surprise.
const MAX_RETRIES: u32 = 2;
/// First backoff; doubled per retry, then jittered to 50-150 %.
const BASE_BACKOFF: Duration = Duration::from_millis(100);
/// Largest response body read. Dynamic's responses are a few KiB; a server (or a proxy in front
/// of it) sending more is not one to trust with memory.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Cap on a connection attempt, so a black-holed host leaves time for a retry.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A decoded success response and what the server said about time.
#[derive(Debug)]
pub(crate) struct Reply<T> {
    pub body: T,
    /// The server's `Date` header, for clock-offset calibration.
    pub server_date: Option<SystemTime>,
}

/// One API call, before it is sent.
struct Call<'a> {
    method: Method,
    route: &'a str,
    body: Option<Vec<u8>>,
    bearer: Option<&'a str>,
    logout_reason: Option<&'static str>,
    /// Shorter overall time than the configured one, if any.
    timeout: Option<Duration>,
}

impl Default for Call<'_> {
    fn default() -> Self {
        Self {
            method: Method::GET,
            route: "",
            body: None,
            bearer: None,
            logout_reason: None,
            timeout: None,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Transport {
    http: reqwest::Client,
    settings: Arc<Settings>,
    /// Sent on every request of this handle (see `with_headers`).
    extra_headers: Arc<[(&'static str, String)]>,
}

impl Transport {
    pub fn new(settings: Arc<Settings>) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .connect_timeout(CONNECT_TIMEOUT.min(settings.timeout))
            .pool_idle_timeout(Duration::from_secs(90))
            // Redirects would re-send the bearer token to wherever the server points: never.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Internal(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            settings,
            extra_headers: Arc::new([]),
        })
    }

    /// A handle on the same connection pool that also sends `headers` on every request (and
    /// every retry of it): the device-binding headers of one sign-in or refresh (`binding`).
    pub fn with_headers(&self, headers: Vec<(&'static str, String)>) -> Self {
        Self {
            extra_headers: headers.into(),
            ..self.clone()
        }
    }

    /// False when the request carries a one-time device nonce: a server that answered (even
    /// 502/503/504, possibly from behind a proxy) may have spent it, so only a request that
    /// never reached it (a connection failure) is sent again.
    fn may_resend_after_answer(&self) -> bool {
        !self
            .extra_headers
            .iter()
            .any(|(name, _)| *name == X_DYNAMIC_DEVICE_NONCE)
    }

    /// POSTs `body` as JSON to `route` and decodes a JSON success body.
    pub async fn post_json<B, R>(
        &self,
        route: &str,
        body: &B,
        bearer: Option<&str>,
    ) -> Result<Reply<R>, Error>
    where
        B: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let payload =
            serde_json::to_vec(body).map_err(|e| Error::Internal(format!("encode: {e}")))?;
        let call = Call {
            method: Method::POST,
            route,
            body: Some(payload),
            bearer,
            ..Call::default()
        };
        self.decode(self.execute(&call).await?).await
    }

    /// POSTs to `route` without a body, authenticated by `bearer` (refresh, contract §4.1).
    pub async fn post_bearer<R: DeserializeOwned>(
        &self,
        route: &str,
        bearer: &str,
    ) -> Result<Reply<R>, Error> {
        let call = Call {
            method: Method::POST,
            route,
            bearer: Some(bearer),
            ..Call::default()
        };
        self.decode(self.execute(&call).await?).await
    }

    /// GETs `route` (no authentication) and decodes a JSON success body.
    pub async fn get_json<R: DeserializeOwned>(&self, route: &str) -> Result<Reply<R>, Error> {
        let call = Call {
            method: Method::GET,
            route,
            ..Call::default()
        };
        self.decode(self.execute(&call).await?).await
    }

    /// `POST revoke` (contract §4.2) with the logout reason, within `timeout`: sign-out must
    /// not wait on a slow network for long.
    pub async fn revoke(
        &self,
        bearer: &str,
        logout_reason: Option<&'static str>,
        timeout: Duration,
    ) -> Result<(), Error> {
        let call = Call {
            method: Method::POST,
            route: paths::REVOKE,
            bearer: Some(bearer),
            logout_reason,
            timeout: Some(timeout),
            ..Call::default()
        };
        self.execute(&call).await.map(drop)
    }

    /// Sends `call`, retrying what is safe to retry, within the call's overall deadline.
    async fn execute(&self, call: &Call<'_>) -> Result<reqwest::Response, Error> {
        let url = paths::sdk_url(
            &self.settings.api_base_url,
            &self.settings.environment_id,
            call.route,
        );
        let timeout = call
            .timeout
            .map_or(self.settings.timeout, |t| t.min(self.settings.timeout));
        let deadline = Instant::now() + timeout;
        let mut attempt = 0;
        loop {
            match self.attempt(call, &url, deadline).await {
                Err(error)
                    if attempt < MAX_RETRIES
                        && is_retryable(&error)
                        && (self.may_resend_after_answer() || is_connect(&error)) =>
                {
                    let pause = backoff(attempt);
                    if Instant::now() + pause >= deadline {
                        return Err(error);
                    }
                    log_at!(
                        LogLevel::Info,
                        target::HTTP,
                        "retrying {} {} in {} ms: {}",
                        call.method,
                        url_path(&url),
                        pause.as_millis(),
                        retry_reason(&error)
                    );
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn attempt(
        &self,
        call: &Call<'_>,
        url: &str,
        deadline: Instant,
    ) -> Result<reqwest::Response, Error> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::Deadline);
        }
        // Fresh per HTTP request, retries included: each attempt is its own request.
        let id = request_id();
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .timeout(remaining)
            .header(X_DYN_VERSION, SDK_VERSION_HEADER)
            .header(X_DYN_API_VERSION, API_VERSION)
            .header(X_DYN_REQUEST_ID, &id);
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        if let Some(origin) = &self.settings.origin {
            request = request.header(ORIGIN, origin);
        }
        if let Some(token) = call.bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(reason) = call.logout_reason {
            request = request.header(X_DYN_LOGOUT_REASON, reason);
        }
        for (name, value) in self.extra_headers.iter() {
            request = request.header(*name, value);
        }
        let started = Instant::now();
        let sent = request.send().await;
        let elapsed = started.elapsed().as_millis();
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                if logging::enabled(LogLevel::Debug) {
                    let line = format!(
                        "{} {} failed after {elapsed} ms: {}",
                        call.method,
                        url_path(url),
                        transport_reason(&error)
                    );
                    logging::emit(LogLevel::Debug, target::HTTP, &line, Some(&id));
                }
                return Err(error.into());
            }
        };
        if logging::enabled(LogLevel::Debug) {
            let line = format!(
                "{} {} -> {} in {elapsed} ms",
                call.method,
                url_path(url),
                response.status().as_u16()
            );
            logging::emit(LogLevel::Debug, target::HTTP, &line, Some(&id));
        }
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(self.error_from(response).await)
        }
    }

    async fn decode<R: DeserializeOwned>(
        &self,
        response: reqwest::Response,
    ) -> Result<Reply<R>, Error> {
        let status = response.status().as_u16();
        let server_date = header_date(response.headers());
        let bytes = read_body(response).await?;
        let body =
            serde_json::from_slice(&bytes).map_err(|source| Error::Decode { status, source })?;
        Ok(Reply { body, server_date })
    }

    async fn error_from(&self, response: reqwest::Response) -> Error {
        let status = response.status();
        let retry_after_seconds = retry_after(response.headers());
        // Error bodies are best effort: 429s may not be JSON at all (contract §3.2).
        let body = read_body(response)
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice::<ApiErrorBody>(&bytes).ok())
            .map(Box::new);
        Error::Http {
            status: status.as_u16(),
            body,
            retry_after_seconds,
            environment_id: self.settings.environment_id.clone(),
        }
    }
}

/// The path of `url` (no scheme, host or query) for logs: `/api/v0/sdk/<env>/refresh`.
fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme
        .find('/')
        .map_or("/", |start| &after_scheme[start..]);
    path.split(['?', '#']).next().unwrap_or(path)
}

/// Why a request failed, in a few words, for logs: a status or a kind of connection failure.
fn retry_reason(error: &Error) -> String {
    match error {
        Error::Http { status, .. } => format!("HTTP {status}"),
        Error::Transport(e) => transport_reason(e).into(),
        other => other.to_string(),
    }
}

fn transport_reason(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if is_tls(error) {
        "TLS failure"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "connection broke"
    }
}

/// The body, refused past `MAX_BODY_BYTES` without reading the rest.
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, Error> {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(Error::Incomplete {
                status,
                detail: "the response body is over 1 MiB",
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// rustls over ring with the Mozilla roots compiled in: identical on iOS, Android and Linux, no
/// JNI initialisation, no C toolchain beyond ring's.
fn tls_config() -> Result<rustls::ClientConfig, Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// Only failures where the server certainly did not act on the request, or says it is briefly
/// unavailable: connection failures and 502/503/504. Never a 4xx, never a timeout mid-response,
/// never a TLS failure (it would fail the same way again).
fn is_retryable(error: &Error) -> bool {
    match error {
        Error::Transport(e) => e.is_connect() && !is_tls(e),
        Error::Http { status, .. } => matches!(
            StatusCode::from_u16(*status),
            Ok(StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT)
        ),
        _ => false,
    }
}

fn is_connect(error: &Error) -> bool {
    matches!(error, Error::Transport(e) if e.is_connect())
}

fn backoff(attempt: u32) -> Duration {
    let base = BASE_BACKOFF * 2u32.pow(attempt);
    let jitter = 0.5 + (random_u32() as f64 / u32::MAX as f64);
    base.mul_f64(jitter)
}

/// `Retry-After` as seconds: either delta-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

fn header_date(headers: &HeaderMap) -> Option<SystemTime> {
    httpdate::parse_http_date(headers.get(DATE)?.to_str().ok()?).ok()
}

/// A random alphanumeric id of the length the JS client uses, for `x-dyn-request-id`.
pub(crate) fn request_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(REQUEST_ID_LEN);
    while id.len() < REQUEST_ID_LEN {
        let mut bytes = [0u8; 64];
        fill_random(&mut bytes);
        // Rejection sampling keeps the distribution uniform over the 62 symbols.
        for b in bytes.iter().filter(|b| **b < 248) {
            if id.len() == REQUEST_ID_LEN {
                break;
            }
            id.push(ALPHABET[(*b % 62) as usize] as char);
        }
    }
    id
}

fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    fill_random(&mut bytes);
    u32::from_le_bytes(bytes)
}

fn fill_random(bytes: &mut [u8]) {
    // The OS RNG failing is not recoverable and does not happen on supported platforms; fall back
    // to a time-derived value rather than panicking inside an FFI call (ids need not be secret).
    if getrandom::getrandom(bytes).is_err() {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed >> ((i % 16) * 8)) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn request_ids_are_fifty_alphanumerics_and_differ() {
        let a = request_id();
        assert_eq!(a.len(), REQUEST_ID_LEN);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, request_id());
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("17"));
        assert_eq!(retry_after(&headers), Some(17));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let seconds = retry_after(&headers).unwrap();
        assert!((110..=120).contains(&seconds), "{seconds}");
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn only_gateway_statuses_and_connect_failures_are_retried() {
        let http = |status| Error::Http {
            status,
            body: None,
            retry_after_seconds: None,
            environment_id: String::new(),
        };
        for status in [502, 503, 504] {
            assert!(is_retryable(&http(status)), "{status}");
        }
        for status in [400, 401, 403, 404, 422, 429, 500] {
            assert!(!is_retryable(&http(status)), "{status}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        for attempt in 0..2 {
            let pause = backoff(attempt);
            let base = BASE_BACKOFF * 2u32.pow(attempt);
            assert!(pause >= base / 2 && pause <= base * 3 / 2, "{pause:?}");
        }
    }

    #[test]
    fn logs_show_only_the_path_of_a_url() {
        assert_eq!(
            url_path("https://app.dynamicauth.com/api/v0/sdk/e/refresh?x=1"),
            "/api/v0/sdk/e/refresh"
        );
        assert_eq!(url_path("http://127.0.0.1:9/"), "/");
        assert_eq!(url_path("http://127.0.0.1:9"), "/");
    }

    #[test]
    fn the_version_header_names_this_sdk() {
        assert!(SDK_VERSION_HEADER.starts_with("DynamicByoaNative/"));
    }
}
