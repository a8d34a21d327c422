//! Fetching and caching the customer's JWKS, the way a careful server does: cached per URL,
//! refetched at most once when a JWT names an unknown `kid` (key rotation), with that refetch
//! rate-limited per URL so a stream of junk `kid`s cannot turn the server into a request
//! amplifier, bounded response size and a fetch timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dynamic_byoa_contract::ExternalAuthRejection;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use serde::Deserialize;

use crate::error::EmulatorError;
use crate::verify::Rejection;

/// Tunables of [`JwksCache`]; the defaults are what the emulator uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksCacheLimits {
    /// How long a fetched key set is used without refetching.
    pub ttl: Duration,
    /// Minimum time between two unknown-`kid` refetches of one URL.
    pub min_refetch_interval: Duration,
    /// Larger JWKS responses are refused.
    pub max_body_bytes: usize,
    /// Whole-request timeout of one fetch.
    pub fetch_timeout: Duration,
}

impl Default for JwksCacheLimits {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(5 * 60),
            min_refetch_interval: Duration::from_secs(10),
            max_body_bytes: 256 * 1024,
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

/// An HTTP client for JWKS fetches: rustls over ring with the webpki roots (reqwest is built
/// without a default TLS provider, so it must be handed a ready configuration).
pub fn http_client() -> Result<reqwest::Client, EmulatorError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| EmulatorError::HttpClient(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(redirect_policy())
        .build()
        .map_err(|e| EmulatorError::HttpClient(e.to_string()))
}

/// At most three redirects, and never from https to http: a key set must not be downgraded.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let started_secure = attempt
            .previous()
            .first()
            .is_some_and(|u| u.scheme() == "https");
        if attempt.previous().len() > 3 || (started_secure && attempt.url().scheme() != "https") {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// Key sets per JWKS URL. Shared by all environments of an emulator, and usable on its own by
/// the CLI's `check`.
pub struct JwksCache {
    http: reqwest::Client,
    limits: JwksCacheLimits,
    entries: Mutex<HashMap<String, Entry>>,
    /// Failed fetches, remembered for `min_refetch_interval` so that a down JWKS host is not
    /// asked again for every sign-in.
    failures: Mutex<HashMap<String, (Instant, Rejection)>>,
    /// One fetch at a time: concurrent sign-ins on a cold cache share the first one's result.
    fetching: tokio::sync::Mutex<()>,
}

struct Entry {
    keys: Arc<Vec<Jwk>>,
    fetched_at: Instant,
    last_forced_refetch: Option<Instant>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    pub fn new(http: reqwest::Client) -> Self {
        Self::with_limits(http, JwksCacheLimits::default())
    }

    pub fn with_limits(http: reqwest::Client, limits: JwksCacheLimits) -> Self {
        Self {
            http,
            limits,
            entries: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The verification key for a JWT with header `kid` (or none), from the JWKS at `url`.
    /// A `kid` missing from a cached set triggers one refetch, if the per-URL refetch budget
    /// allows. A JWT without `kid` is accepted only against a single-key JWKS.
    pub async fn key_for(&self, url: &str, kid: Option<&str>) -> Result<Jwk, Rejection> {
        let (keys, fetched_now) = self.current(url).await?;
        if let Some(key) = pick(&keys, kid) {
            return Ok(key);
        }
        // Rotation is the only case a refetch can fix: a named kid we have not seen yet.
        if kid.is_some() && !fetched_now && self.take_refetch_budget(url) {
            let _one_at_a_time = self.fetching.lock().await;
            let keys = self.fetch(url).await?;
            if let Some(key) = pick(&keys, kid) {
                return Ok(key);
            }
            return Err(unknown_key(url, kid, keys.len()));
        }
        Err(unknown_key(url, kid, keys.len()))
    }

    /// All usable signature keys currently published at `url` (cached when fresh).
    pub async fn keys(&self, url: &str) -> Result<Vec<Jwk>, Rejection> {
        Ok(self.current(url).await?.0.as_ref().clone())
    }

    /// The cached set when fresh, else a fetched one; `true` when it was fetched just now.
    async fn current(&self, url: &str) -> Result<(Arc<Vec<Jwk>>, bool), Rejection> {
        if let Some(keys) = self.fresh_entry(url) {
            return Ok((keys, false));
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Whoever held the lock before may have fetched (or failed) already.
        if let Some(keys) = self.fresh_entry(url) {
            return Ok((keys, false));
        }
        if let Some(rejection) = self.recent_failure(url) {
            return Err(rejection);
        }
        Ok((self.fetch(url).await?, true))
    }

    fn recent_failure(&self, url: &str) -> Option<Rejection> {
        let failures = self.failures.lock().expect("jwks failure lock");
        let (at, rejection) = failures.get(url)?;
        (at.elapsed() < self.limits.min_refetch_interval).then(|| rejection.clone())
    }

    fn fresh_entry(&self, url: &str) -> Option<Arc<Vec<Jwk>>> {
        let entries = self.entries.lock().expect("jwks cache lock");
        let entry = entries.get(url)?;
        (entry.fetched_at.elapsed() < self.limits.ttl).then(|| entry.keys.clone())
    }

    /// True (and the budget spent) when no unknown-kid refetch of `url` happened recently.
    fn take_refetch_budget(&self, url: &str) -> bool {
        let mut entries = self.entries.lock().expect("jwks cache lock");
        let Some(entry) = entries.get_mut(url) else {
            return true;
        };
        let now = Instant::now();
        let allowed = entry
            .last_forced_refetch
            .is_none_or(|at| now.duration_since(at) >= self.limits.min_refetch_interval);
        if allowed {
            entry.last_forced_refetch = Some(now);
        }
        allowed
    }

    /// Downloads and caches the set at `url`; callers hold `fetching`.
    async fn fetch(&self, url: &str) -> Result<Arc<Vec<Jwk>>, Rejection> {
        let downloaded = self
            .download(url)
            .await
            .and_then(|body| parse_jwks(&body).map_err(|why| unavailable(url, why)));
        let mut failures = self.failures.lock().expect("jwks failure lock");
        let keys = match downloaded {
            Ok(keys) => {
                failures.remove(url);
                Arc::new(keys)
            }
            Err(rejection) => {
                failures.insert(url.to_owned(), (Instant::now(), rejection.clone()));
                return Err(rejection);
            }
        };
        drop(failures);
        let mut entries = self.entries.lock().expect("jwks cache lock");
        let last_forced_refetch = entries.get(url).and_then(|e| e.last_forced_refetch);
        entries.insert(
            url.to_owned(),
            Entry {
                keys: keys.clone(),
                fetched_at: Instant::now(),
                last_forced_refetch,
            },
        );
        Ok(keys)
    }

    /// GET `url` and return its body, refusing non-2xx answers and oversized bodies.
    async fn download(&self, url: &str) -> Result<Vec<u8>, Rejection> {
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.limits.fetch_timeout)
            .send()
            .await
            .map_err(|e| unavailable(url, error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(unavailable(
                url,
                format!("HTTP status {}", response.status()),
            ));
        }
        let max = self.limits.max_body_bytes;
        let too_large = || unavailable(url, format!("response larger than {max} bytes"));
        if response
            .content_length()
            .is_some_and(|len| len > max as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unavailable(url, error_chain(&e)))?
        {
            if body.len() + chunk.len() > max {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

/// The signature keys of a JWKS document. Keys this verifier cannot use (unknown types,
/// encryption keys) are skipped rather than failing the whole set, as JWKS consumers do.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<Jwk>, String> {
    let document: JwksDocument = serde_json::from_slice(body)
        .map_err(|e| format!("response is not a JSON key set ({e})"))?;
    Ok(document
        .keys
        .into_iter()
        .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
        .filter(is_signature_key)
        .collect())
}

/// Asymmetric keys not reserved for encryption: the only ones a JWT may be verified with here.
fn is_signature_key(jwk: &Jwk) -> bool {
    let asymmetric = matches!(
        jwk.algorithm,
        AlgorithmParameters::RSA(_)
            | AlgorithmParameters::EllipticCurve(_)
            | AlgorithmParameters::OctetKeyPair(_)
    );
    asymmetric && jwk.common.public_key_use != Some(PublicKeyUse::Encryption)
}

pub(crate) fn pick(keys: &[Jwk], kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(kid) => keys
            .iter()
            .find(|jwk| jwk.common.key_id.as_deref() == Some(kid))
            .cloned(),
        None if keys.len() == 1 => keys.first().cloned(),
        None => None,
    }
}

fn unknown_key(url: &str, kid: Option<&str>, available: usize) -> Rejection {
    let detail = match kid {
        Some(kid) => format!("kid {kid:?} is not among the {available} key(s) served by {url}"),
        None => format!(
            "the JWT header has no kid and {url} serves {available} keys, so none can be chosen"
        ),
    };
    Rejection::new(ExternalAuthRejection::UnknownKey, detail)
}

fn unavailable(url: &str, why: impl std::fmt::Display) -> Rejection {
    Rejection::new(
        ExternalAuthRejection::JwksUnavailable,
        format!("GET {url}: {why}"),
    )
}

/// An error with its causes, e.g. "error sending request: connection refused".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rsa_jwk(kid: &str) -> serde_json::Value {
        json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": "AQAB", "e": "AQAB"})
    }

    #[test]
    fn parse_keeps_only_asymmetric_signature_keys() {
        let body = json!({"keys": [
            rsa_jwk("a"),
            {"kty": "weird", "kid": "b"},
            {"kty": "oct", "kid": "d", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "c", "use": "enc", "n": "AQAB", "e": "AQAB"},
        ]});
        let keys = parse_jwks(body.to_string().as_bytes()).unwrap();
        let kids: Vec<_> = keys
            .iter()
            .map(|k| k.common.key_id.clone().unwrap())
            .collect();
        assert_eq!(kids, ["a"]);
    }

    #[test]
    fn parse_refuses_documents_without_keys() {
        assert!(parse_jwks(b"{\"nope\": []}").is_err());
        assert!(parse_jwks(b"<html>").is_err());
    }

    #[test]
    fn pick_matches_kid_or_the_only_key_when_kid_is_absent() {
        let one: Vec<Jwk> = vec![serde_json::from_value(rsa_jwk("a")).unwrap()];
        assert!(pick(&one, Some("a")).is_some());
        assert!(pick(&one, Some("b")).is_none());
        assert!(pick(&one, None).is_some());
        let two: Vec<Jwk> = vec![
            serde_json::from_value(rsa_jwk("a")).unwrap(),
            serde_json::from_value(rsa_jwk("b")).unwrap(),
        ];
        assert!(pick(&two, None).is_none(), "ambiguous without kid");
    }

    #[test]
    fn rejection_texts_classify_back_to_their_reason() {
        let unknown = unknown_key("http://127.0.0.1:1/.well-known/jwks.json", Some("k"), 1);
        let unknown_no_kid = unknown_key("http://127.0.0.1:1/jwks", None, 2);
        let down = unavailable("http://127.0.0.1:1/jwks", "connection refused");
        for rejection in [unknown, unknown_no_kid, down] {
            assert_eq!(
                ExternalAuthRejection::classify(&rejection.message()),
                Some(rejection.reason),
                "{rejection}"
            );
        }
    }

    #[test]
    fn refetch_budget_is_spent_once_per_interval() {
        let cache = JwksCache::new(http_client().unwrap());
        let url = "http://127.0.0.1:1/jwks";
        cache.entries.lock().unwrap().insert(
            url.to_owned(),
            Entry {
                keys: Arc::new(Vec::new()),
                fetched_at: Instant::now(),
                last_forced_refetch: None,
            },
        );
        assert!(cache.take_refetch_budget(url));
        assert!(
            !cache.take_refetch_budget(url),
            "second refetch within 10 s is refused"
        );
        let long_ago = Instant::now().checked_sub(Duration::from_secs(11)).unwrap();
        cache
            .entries
            .lock()
            .unwrap()
            .get_mut(url)
            .unwrap()
            .last_forced_refetch = Some(long_ago);
        assert!(cache.take_refetch_budget(url));
    }

    /// Serves `body` with `status` at `/jwks` on loopback; returns the URL.
    async fn serve(status: u16, body: String) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let status = axum::http::StatusCode::from_u16(status).unwrap();
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let body = body.clone();
                async move { (status, body) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    #[tokio::test]
    async fn oversized_jwks_responses_are_refused() {
        let padding = " ".repeat(300 * 1024);
        let url = serve(200, format!("{{\"keys\": []{padding}}}")).await;
        let cache = JwksCache::new(http_client().unwrap());
        let err = cache.keys(&url).await.unwrap_err();
        assert_eq!(err.reason, ExternalAuthRejection::JwksUnavailable);
        assert!(
            err.detail.contains("larger than 262144 bytes"),
            "{}",
            err.detail
        );
    }

    /// Like `serve`, and counts the requests it answers.
    async fn serve_counting(
        status: u16,
        body: String,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let status = axum::http::StatusCode::from_u16(status).unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                async move { (status, body) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, hits)
    }

    #[tokio::test]
    async fn a_failing_jwks_host_is_not_asked_again_for_every_sign_in() {
        let (url, hits) = serve_counting(503, String::new()).await;
        let cache = JwksCache::new(http_client().unwrap());
        for _ in 0..3 {
            let err = cache.keys(&url).await.unwrap_err();
            assert_eq!(err.reason, ExternalAuthRejection::JwksUnavailable);
        }
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn concurrent_lookups_on_a_cold_cache_share_one_fetch() {
        let body = json!({"keys": [rsa_jwk("a")]}).to_string();
        let (url, hits) = serve_counting(200, body).await;
        let cache = Arc::new(JwksCache::new(http_client().unwrap()));
        let lookups: Vec<_> = (0..8)
            .map(|_| {
                let (cache, url) = (cache.clone(), url.clone());
                tokio::spawn(async move { cache.key_for(&url, Some("a")).await })
            })
            .collect();
        for lookup in lookups {
            assert!(lookup.await.unwrap().is_ok());
        }
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn non_success_status_is_unavailable_and_not_cached() {
        let url = serve(404, "{\"keys\": []}".to_owned()).await;
        let cache = JwksCache::new(http_client().unwrap());
        let err = cache.keys(&url).await.unwrap_err();
        assert_eq!(err.reason, ExternalAuthRejection::JwksUnavailable);
        assert!(err.detail.contains("404"), "{}", err.detail);
        assert!(cache.entries.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn unreachable_jwks_is_reported_as_unavailable() {
        // Port 9 (discard) on loopback is closed in any sane test environment.
        let cache = JwksCache::new(http_client().unwrap());
        let err = cache
            .key_for("http://127.0.0.1:9/jwks", Some("k"))
            .await
            .unwrap_err();
        assert_eq!(err.reason, ExternalAuthRejection::JwksUnavailable);
        assert!(err.detail.contains("127.0.0.1:9"), "{}", err.detail);
    }
}
