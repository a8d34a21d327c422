//! Row 2: steady-state sign-in latency through `DynamicClient` against the emulator on loopback,
//! on both transports (the built-in reqwest stack, and an `HttpTransport` implemented here as a
//! platform layer would), versus a raw reqwest POST of the same request to the same emulator.
//!
//! All sides are warmed up (connection open, JWKS cached), then run interleaved, rotating which
//! goes first, so that drift on a noisy machine hits them equally. The raw side sends the same
//! body and headers and parses the JSON reply into a `serde_json::Value`; what the client adds
//! on top is its preflight, typed decoding, the token check, session bookkeeping and the hop onto
//! its own runtime. The port side also times its own `send` of the sign-in request, so the bench
//! can print the client's own work per sign-in: the total minus the time inside HTTP.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dynamic_byoa::{
    ClientConfig, ClientDependencies, DynamicClient, HttpError, HttpHeader, HttpRequest,
    HttpResponse, HttpTransport, SDK_VERSION_HEADER, SignInWithExternalJwtParams,
};
use dynamic_byoa_contract::headers::{
    API_VERSION, REQUEST_ID_LEN, X_DYN_API_VERSION, X_DYN_REQUEST_ID, X_DYN_VERSION,
};
use serde_json::{Value, json};

use crate::BoxResult;
use crate::fixture::{ENVIRONMENT_ID, EXTERNAL_USER, Fixture};
use crate::stats::Summary;

const WARM_UP: usize = 50;

pub struct Latency {
    /// `DynamicClient` on its built-in reqwest transport.
    pub client: Summary,
    /// `DynamicClient` on the bench's own `HttpTransport`.
    pub port: Summary,
    /// Of `port`: the time outside the transport's `send` of the sign-in request.
    pub port_own: Summary,
    pub raw: Summary,
    /// An exported async call that does no I/O (`auth().restore()` once settled): the hop onto
    /// the library runtime and back, which every exported async call pays.
    pub round_trip: Summary,
}

pub fn measure(fixture: &Fixture, signins: usize) -> BoxResult<Latency> {
    // The measuring side polls on one thread; the client hops to its own runtime as in an app.
    let driver = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let config = ClientConfig::new(ENVIRONMENT_ID).with_api_base_url(fixture.base_url());
    let client = DynamicClient::new(config.clone(), ClientDependencies::default())?;
    let timed = Arc::new(TimedTransport::new(fixture)?);
    let port_client = DynamicClient::new(
        config,
        ClientDependencies {
            http_transport: Some(timed.clone()),
            ..Default::default()
        },
    )?;
    let raw = RawSignIn::new(fixture)?;
    let before = fixture.signin_count();
    let mut times = [Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    driver.block_on(async {
        for _ in 0..WARM_UP {
            client_sign_in(&client, fixture).await?;
            client_sign_in(&port_client, fixture).await?;
            raw.sign_in().await?;
        }
        for i in 0..signins {
            for side in 0..3 {
                match (i + side) % 3 {
                    0 => times[0].push(client_sign_in(&client, fixture).await?),
                    1 => {
                        let total = client_sign_in(&port_client, fixture).await?;
                        let http = timed.take_signin_time().ok_or("no timed sign-in")?;
                        times[1].push(total);
                        times[2].push(total.saturating_sub(http));
                    }
                    _ => times[3].push(raw.sign_in().await?),
                }
            }
            let started = Instant::now();
            client.auth().restore().await;
            times[4].push(started.elapsed());
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    let seen = fixture.signin_count() - before;
    if seen != 3 * (WARM_UP + signins) {
        return Err(format!(
            "the emulator saw {seen} sign-ins, expected {}",
            3 * (WARM_UP + signins)
        )
        .into());
    }
    let [client, port, port_own, raw, round_trip] = times.map(|t| Summary::of_durations_ms(&t));
    Ok(Latency {
        client,
        port,
        port_own,
        raw,
        round_trip,
    })
}

async fn client_sign_in(client: &DynamicClient, fixture: &Fixture) -> BoxResult<Duration> {
    let params = SignInWithExternalJwtParams {
        external_jwt: fixture.external_jwt.clone(),
        external_user_id: EXTERNAL_USER.to_owned(),
        session_public_key: None,
    };
    let started = Instant::now();
    client
        .auth()
        .external()
        .sign_in_with_external_jwt(params)
        .await?;
    Ok(started.elapsed())
}

/// An `HttpTransport` over a reqwest client of the bench's own, as a platform layer is over
/// OkHttp or URLSession: it only moves bytes. It times its `send` of each sign-in request.
struct TimedTransport {
    http: reqwest::Client,
    signin_url: String,
    signin_time: Mutex<Option<Duration>>,
}

impl TimedTransport {
    fn new(fixture: &Fixture) -> BoxResult<Self> {
        Ok(Self {
            http: plain_reqwest()?,
            signin_url: fixture.signin_url(),
            signin_time: Mutex::new(None),
        })
    }

    fn take_signin_time(&self) -> Option<Duration> {
        self.signin_time.lock().unwrap().take()
    }

    async fn exchange(&self, request: &HttpRequest) -> Result<HttpResponse, reqwest::Error> {
        let method = match request.method() {
            dynamic_byoa::HttpMethod::Get => reqwest::Method::GET,
            dynamic_byoa::HttpMethod::Post => reqwest::Method::POST,
        };
        let mut builder = self
            .http
            .request(method, request.url())
            .timeout(Duration::from_millis(request.timeout_ms() as u64))
            .body(request.body());
        for header in request.headers() {
            builder = builder.header(header.name, header.value);
        }
        let response = builder.send().await?;
        let status = i32::from(response.status().as_u16());
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| HttpHeader {
                name: name.as_str().to_owned(),
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            })
            .collect();
        let body = response.bytes().await?.to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
            url: None,
        })
    }
}

#[async_trait::async_trait]
impl HttpTransport for TimedTransport {
    async fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, HttpError> {
        let started = Instant::now();
        let response = self.exchange(&request).await.map_err(|e| HttpError::Other {
            detail: e.to_string(),
        });
        if request.url() == self.signin_url {
            *self.signin_time.lock().unwrap() = Some(started.elapsed());
        }
        response
    }
}

/// Same TLS stack as the library (unused on loopback http, but reqwest needs a backend).
fn plain_reqwest() -> BoxResult<reqwest::Client> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// What an app would write without the library: one reqwest client, the same request.
struct RawSignIn {
    http: reqwest::Client,
    url: String,
    body: Vec<u8>,
}

impl RawSignIn {
    fn new(fixture: &Fixture) -> BoxResult<Self> {
        Ok(Self {
            http: plain_reqwest()?,
            url: fixture.signin_url(),
            body: serde_json::to_vec(&json!({"jwt": fixture.external_jwt}))?,
        })
    }

    async fn sign_in(&self) -> BoxResult<Duration> {
        let started = Instant::now();
        let response = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(X_DYN_VERSION, SDK_VERSION_HEADER)
            .header(X_DYN_API_VERSION, API_VERSION)
            .header(X_DYN_REQUEST_ID, request_id())
            .body(self.body.clone())
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("raw sign-in got {}", response.status()).into());
        }
        let body: Value = response.json().await?;
        let elapsed = started.elapsed();
        if body["minifiedJwt"].as_str().is_none() {
            return Err("raw sign-in reply has no minifiedJwt".into());
        }
        Ok(elapsed)
    }
}

/// A fresh 50-character alphanumeric id, as the client sends (not secret: a cheap generator).
fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    (0..REQUEST_ID_LEN)
        .map(|_| {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
            ALPHABET[(r >> 58) as usize % ALPHABET.len()] as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_have_the_clients_shape() {
        let (a, b) = (super::request_id(), super::request_id());
        assert_eq!(a.len(), 50);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
