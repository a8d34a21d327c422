//! HTTP to Dynamic's SDK API, above the HTTP port (`crate::ports::http`): the contract's
//! headers, a bounded retry policy, the overall deadline, the body limit, redirect refusal, and
//! error statuses turned into internal errors. The same code runs over every `HttpTransport`;
//! the built-in one (reqwest) is `reqwest_transport`.
//!
//! May import: `config`, `error`, `ports`, `support`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use dynamic_byoa_contract::headers::{
    API_VERSION, REQUEST_ID_LEN, RETRY_AFTER, X_DYN_API_VERSION, X_DYN_LOGOUT_REASON,
    X_DYN_REQUEST_ID, X_DYN_VERSION, X_DYNAMIC_DEVICE_NONCE,
};
use dynamic_byoa_contract::{ApiErrorBody, paths};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(feature = "reqwest-transport")]
pub(crate) mod reqwest_transport;

use crate::config::Settings;
use crate::error::Error;
use crate::ports::http::{
    HttpError, HttpHeader, HttpMethod, HttpRequest, HttpResponse, HttpTransport, find_header,
};
use crate::support::clock::Clock;
use crate::support::logging::{self, LogLevel, log_at, target};
use crate::support::time::unix_seconds;

/// `x-dyn-version`: names this SDK and its version, as `ClientSDK/<version>` does for the JS client.
pub const SDK_VERSION_HEADER: &str = concat!("DynamicByoaNative/", env!("CARGO_PKG_VERSION"));

/// Retries after the first attempt, for failures a retry cannot turn into a surprise.
const MAX_RETRIES: u32 = 2;
/// First backoff; doubled per retry, then jittered to 50-150 %.
const BASE_BACKOFF: Duration = Duration::from_millis(100);
/// Largest response body accepted. Dynamic's responses are a few KiB; a server (or a proxy in
/// front of it) sending more is not one to trust with memory.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How far the device clock may run from the monotonic clock over one request before a `Date`
/// read across it is distrusted.
const MAX_CLOCK_DRIFT: Duration = Duration::from_secs(2);
/// Cap on a connection attempt, so a black-holed host leaves time for a retry.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A decoded success response and what the server said about time.
#[derive(Debug)]
pub(crate) struct Reply<T> {
    pub body: T,
    /// The server's `Date` header: when the server answered.
    pub server_date: Option<SystemTime>,
    /// Server time minus device time (seconds) when the answer arrived, for calibrating the
    /// device clock; `None` when the answer cannot tell (no `Date`, or the clock jumped).
    pub server_offset: Option<i64>,
}

/// One API call, before it is sent.
struct Call<'a> {
    method: HttpMethod,
    route: &'a str,
    body: Vec<u8>,
    bearer: Option<&'a str>,
    logout_reason: Option<&'static str>,
    /// Shorter overall time than the configured one, if any.
    timeout: Option<Duration>,
}

impl Default for Call<'_> {
    fn default() -> Self {
        Self {
            method: HttpMethod::Get,
            route: "",
            body: Vec::new(),
            bearer: None,
            logout_reason: None,
            timeout: None,
        }
    }
}

/// A response that passed the port checks: a real status, well-formed headers, a bounded body.
#[derive(Clone)]
pub(crate) struct Answer {
    status: u16,
    headers: Vec<HttpHeader>,
    body: Vec<u8>,
    /// See `Transport::server_offset`.
    server_offset: Option<i64>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name).map(str::trim)
    }
}

#[derive(Clone)]
pub(crate) struct Transport {
    http: Arc<dyn HttpTransport>,
    settings: Arc<Settings>,
    /// The device clock, to tell whether it jumped while a request was in flight.
    clock: Arc<dyn Clock>,
    /// Sent on every request of this handle (see `with_headers`).
    extra_headers: Arc<[(&'static str, String)]>,
}

impl Transport {
    pub fn new(
        settings: Arc<Settings>,
        http: Arc<dyn HttpTransport>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            http,
            settings,
            clock,
            extra_headers: Arc::new([]),
        }
    }

    /// A handle on the same HTTP stack that also sends `headers` on every request (and every
    /// retry of it): the device-binding headers of one sign-in or refresh (`device`).
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
            method: HttpMethod::Post,
            route,
            body: payload,
            bearer,
            ..Call::default()
        };
        decode(self.execute(&call).await?)
    }

    /// POSTs to `route` without a body, authenticated by `bearer` (refresh, contract §4.1).
    pub async fn post_bearer<R: DeserializeOwned>(
        &self,
        route: &str,
        bearer: &str,
    ) -> Result<Reply<R>, Error> {
        let call = Call {
            method: HttpMethod::Post,
            route,
            bearer: Some(bearer),
            ..Call::default()
        };
        decode(self.execute(&call).await?)
    }

    /// GETs `route` (no authentication) and decodes a JSON success body.
    pub async fn get_json<R: DeserializeOwned>(&self, route: &str) -> Result<Reply<R>, Error> {
        let call = Call {
            method: HttpMethod::Get,
            route,
            ..Call::default()
        };
        decode(self.execute(&call).await?)
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
            method: HttpMethod::Post,
            route: paths::REVOKE,
            bearer: Some(bearer),
            logout_reason,
            timeout: Some(timeout),
            ..Call::default()
        };
        self.execute(&call).await.map(drop)
    }

    /// Sends `call`, retrying what is safe to retry, within the call's overall deadline.
    async fn execute(&self, call: &Call<'_>) -> Result<Answer, Error> {
        let url = paths::sdk_url(
            &self.settings.api_base_url,
            &self.settings.environment_id,
            call.route,
        );
        // The base URL was checked at construction; this guards every request all the same,
        // before any transport sees it.
        if !self.settings.allows_url(&url) {
            return Err(Error::Internal(
                "refused to send a request over plain HTTP to a non-loopback host".into(),
            ));
        }
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
    ) -> Result<Answer, Error> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::Deadline);
        }
        // Fresh per HTTP request, retries included: each attempt is its own request.
        let id = request_id();
        let request = self.request(call, url, remaining, &id);
        let started = Instant::now();
        let device_started = self.clock.now();
        // The deadline is Rust's, whatever the transport does with `timeout_ms`: a transport
        // that never answers is dropped (cancelled) when it passes.
        let sent = match tokio::time::timeout(remaining, self.http.send(Arc::new(request))).await {
            Ok(sent) => sent.map_err(Error::Transport),
            Err(_) => Err(Error::Deadline),
        };
        let elapsed = started.elapsed().as_millis();
        let answer = match sent.and_then(|response| checked(response, url)) {
            Ok(mut answer) => {
                answer.server_offset = self.server_offset(&answer, device_started, started);
                answer
            }
            Err(error) => {
                if logging::enabled(LogLevel::Debug) {
                    let line = format!(
                        "{} {} failed after {elapsed} ms: {}",
                        call.method,
                        url_path(url),
                        retry_reason(&error)
                    );
                    logging::emit(LogLevel::Debug, target::HTTP, &line, Some(&id));
                }
                return Err(error);
            }
        };
        if logging::enabled(LogLevel::Debug) {
            let line = format!(
                "{} {} -> {} in {elapsed} ms",
                call.method,
                url_path(url),
                answer.status
            );
            logging::emit(LogLevel::Debug, target::HTTP, &line, Some(&id));
        }
        match answer.status {
            200..=299 => Ok(answer),
            // Dynamic's API never redirects; following one would re-send the bearer token to
            // wherever it points, and not following it leaves nothing to decode.
            300..=399 => Err(Error::Incomplete {
                status: answer.status,
                detail: "a redirect was refused: Dynamic's API does not redirect (check api_base_url and any proxy)",
            }),
            _ => Err(self.error_from(answer)),
        }
    }

    /// Server time minus device time, in seconds, from the answer's `Date`, measured the moment
    /// the answer arrived: computed later, a device clock that moved meanwhile would be counted
    /// as server time. `None` without a usable `Date`, or when the device clock jumped while the
    /// request was in flight.
    fn server_offset(
        &self,
        answer: &Answer,
        device_started: SystemTime,
        started: Instant,
    ) -> Option<i64> {
        let date = httpdate::parse_http_date(answer.header("date")?).ok()?;
        if self.device_clock_jumped(device_started, started.elapsed()) {
            return None;
        }
        Some(unix_seconds(date) - self.clock.now_unix())
    }

    /// True when the device clock moved by more than the request took (give or take
    /// `MAX_CLOCK_DRIFT`) while it was in flight: the clock was changed, or the process was
    /// suspended (a monotonic clock stops with it, the wall clock does not). A `Date` read then
    /// cannot be compared with the device clock: the offset would be off by the jump, and with
    /// it every expiry and every external JWT's time window (found by the soak).
    fn device_clock_jumped(&self, device_started: SystemTime, took: Duration) -> bool {
        let device_took = match self.clock.now().duration_since(device_started) {
            Ok(forward) => forward,
            Err(_) => return true,
        };
        device_took.abs_diff(took) > MAX_CLOCK_DRIFT
    }

    /// The request for one attempt: the contract's headers, then the call's, then this handle's.
    fn request(&self, call: &Call<'_>, url: &str, remaining: Duration, id: &str) -> HttpRequest {
        let mut headers = Vec::with_capacity(8 + self.extra_headers.len());
        let mut add = |name: &str, value: String| {
            headers.push(HttpHeader {
                name: name.to_owned(),
                value,
            })
        };
        add(X_DYN_VERSION, SDK_VERSION_HEADER.to_owned());
        add(X_DYN_API_VERSION, API_VERSION.to_owned());
        add(X_DYN_REQUEST_ID, id.to_owned());
        if !call.body.is_empty() {
            add("content-type", "application/json".to_owned());
        }
        if let Some(origin) = &self.settings.origin {
            add("origin", origin.clone());
        }
        if let Some(token) = call.bearer {
            add("authorization", format!("Bearer {token}"));
        }
        if let Some(reason) = call.logout_reason {
            add(X_DYN_LOGOUT_REASON, reason.to_owned());
        }
        for (name, value) in self.extra_headers.iter() {
            add(name, value.clone());
        }
        HttpRequest {
            method: call.method,
            url: url.to_owned(),
            headers,
            body: call.body.clone(),
            timeout_ms: millis(remaining),
            connect_timeout_ms: millis(CONNECT_TIMEOUT.min(remaining)),
            max_response_bytes: MAX_BODY_BYTES as i64,
        }
    }

    fn error_from(&self, answer: Answer) -> Error {
        let retry_after_seconds = answer.header(RETRY_AFTER).and_then(retry_after);
        // Error bodies are best effort: 429s may not be JSON at all (contract §3.2).
        let body = serde_json::from_slice::<ApiErrorBody>(&answer.body)
            .ok()
            .map(Box::new);
        Error::Http {
            status: answer.status,
            body,
            retry_after_seconds,
            environment_id: self.settings.environment_id.clone(),
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}

/// What the transport handed back, checked before anything reads it: a status in 100-599,
/// headers an HTTP stack could have received, a body within the limit, from the URL asked for.
pub(crate) fn checked(response: HttpResponse, url: &str) -> Result<Answer, Error> {
    let status = u16::try_from(response.status)
        .ok()
        .filter(|s| (100..=599).contains(s))
        .ok_or(Error::Incomplete {
            status: 0,
            detail: "the HTTP transport returned a status outside 100-599",
        })?;
    let malformed = response
        .headers
        .iter()
        .any(|h| !is_token(&h.name) || h.value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)));
    if malformed {
        return Err(Error::Incomplete {
            status,
            detail: "the HTTP transport returned a malformed header",
        });
    }
    let mut body = response.body;
    if body.len() > MAX_BODY_BYTES {
        if (200..=299).contains(&status) {
            return Err(Error::Incomplete {
                status,
                detail: "the response body is over 1 MiB",
            });
        }
        // An error's body is read best effort (a proxy's large HTML 503 page): its status
        // still decides, and is still retried where the rules allow.
        body.clear();
    }
    if response
        .url
        .as_deref()
        .is_some_and(|answered| !same_url(answered, url))
    {
        return Err(Error::Incomplete {
            status,
            detail: "the HTTP transport followed a redirect; redirects are refused",
        });
    }
    Ok(Answer {
        status,
        headers: response.headers,
        body,
        server_offset: None,
    })
}

/// A header name as RFC 9110 allows it (a `token`).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// True when `answered` is `asked` as an HTTP stack may spell it back (scheme and host in any
/// case, a default port written out, no trailing slash).
fn same_url(answered: &str, asked: &str) -> bool {
    fn normal(url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let authority = authority.to_ascii_lowercase();
        let scheme = scheme.to_ascii_lowercase();
        let authority = match scheme.as_str() {
            "https" => authority.strip_suffix(":443").unwrap_or(&authority),
            "http" => authority.strip_suffix(":80").unwrap_or(&authority),
            _ => &authority,
        }
        .to_owned();
        let path = path.trim_end_matches('/');
        format!("{scheme}://{authority}{path}")
    }
    normal(answered) == normal(asked)
}

pub(crate) fn decode<R: DeserializeOwned>(answer: Answer) -> Result<Reply<R>, Error> {
    let server_date = answer
        .header("date")
        .and_then(|date| httpdate::parse_http_date(date).ok());
    let body = serde_json::from_slice(&answer.body).map_err(|source| Error::Decode {
        status: answer.status,
        detail: source.to_string(),
    })?;
    Ok(Reply {
        body,
        server_date,
        server_offset: answer.server_offset,
    })
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
        Error::Transport(e) => e.reason().into(),
        other => other.to_string(),
    }
}

/// Only failures where the server certainly did not act on the request, or says it is briefly
/// unavailable: connection failures and 502/503/504. Never a 4xx, never a timeout mid-response,
/// never a TLS failure (it would fail the same way again).
fn is_retryable(error: &Error) -> bool {
    match error {
        Error::Transport(e) => matches!(e, HttpError::Connect { .. }),
        Error::Http { status, .. } => matches!(status, 502..=504),
        _ => false,
    }
}

fn is_connect(error: &Error) -> bool {
    matches!(error, Error::Transport(HttpError::Connect { .. }))
}

fn backoff(attempt: u32) -> Duration {
    let base = BASE_BACKOFF * 2u32.pow(attempt);
    let jitter = 0.5 + (random_u32() as f64 / u32::MAX as f64);
    base.mul_f64(jitter)
}

/// `Retry-After` as seconds: either delta-seconds or an HTTP date.
fn retry_after(value: &str) -> Option<u64> {
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

/// The transport a client gets when the app passes none: reqwest where it is built in, else
/// none (the mobile build: the platform layer always passes its own).
pub(crate) fn builtin(
    connect_timeout: std::time::Duration,
) -> Result<Option<Arc<dyn HttpTransport>>, Error> {
    #[cfg(feature = "reqwest-transport")]
    {
        let transport = reqwest_transport::ReqwestTransport::new(connect_timeout)?;
        Ok(Some(Arc::new(transport)))
    }
    #[cfg(not(feature = "reqwest-transport"))]
    {
        let _ = connect_timeout;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_fifty_alphanumerics_and_differ() {
        let a = request_id();
        assert_eq!(a.len(), REQUEST_ID_LEN);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, request_id());
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after("17"), Some(17));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let seconds = retry_after(&later).unwrap();
        assert!((110..=120).contains(&seconds), "{seconds}");
        assert_eq!(retry_after("soon"), None);
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
