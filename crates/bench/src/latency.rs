//! Row 2: steady-state sign-in latency through `DynamicClient` against the emulator on loopback,
//! versus a raw reqwest POST of the same request to the same emulator.
//!
//! Both sides are warmed up (connection open, JWKS cached), then run interleaved, alternating
//! which goes first, so that drift on a noisy machine hits both equally. The raw side sends the
//! same body and headers and parses the JSON reply into a `serde_json::Value`; what the client
//! adds on top is its preflight, typed decoding, session bookkeeping and the hop onto its own
//! runtime.

use std::time::{Duration, Instant};

use dynamic_byoa::{ClientConfig, DynamicClient, SDK_VERSION_HEADER, SignInWithExternalJwtParams};
use dynamic_byoa_contract::headers::{
    API_VERSION, REQUEST_ID_LEN, X_DYN_API_VERSION, X_DYN_REQUEST_ID, X_DYN_VERSION,
};
use serde_json::{Value, json};

use crate::BoxResult;
use crate::fixture::{ENVIRONMENT_ID, EXTERNAL_USER, Fixture};
use crate::stats::Summary;

const WARM_UP: usize = 50;

pub struct Latency {
    pub client: Summary,
    pub raw: Summary,
}

pub fn measure(fixture: &Fixture, signins: usize) -> BoxResult<Latency> {
    // The measuring side polls on one thread; the client hops to its own runtime as in an app.
    let driver = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = DynamicClient::new(
        ClientConfig::new(ENVIRONMENT_ID).with_api_base_url(fixture.base_url()),
        Default::default(),
    )?;
    let raw = RawSignIn::new(fixture)?;
    let before = fixture.signin_count();
    let (client_times, raw_times) = driver.block_on(async {
        for _ in 0..WARM_UP {
            client_sign_in(&client, fixture).await?;
            raw.sign_in().await?;
        }
        let mut client_times = Vec::with_capacity(signins);
        let mut raw_times = Vec::with_capacity(signins);
        for i in 0..signins {
            if i % 2 == 0 {
                client_times.push(client_sign_in(&client, fixture).await?);
                raw_times.push(raw.sign_in().await?);
            } else {
                raw_times.push(raw.sign_in().await?);
                client_times.push(client_sign_in(&client, fixture).await?);
            }
        }
        Ok::<_, Box<dyn std::error::Error>>((client_times, raw_times))
    })?;
    let seen = fixture.signin_count() - before;
    if seen != 2 * (WARM_UP + signins) {
        return Err(format!(
            "the emulator saw {seen} sign-ins, expected {}",
            2 * (WARM_UP + signins)
        )
        .into());
    }
    Ok(Latency {
        client: Summary::of_durations_ms(&client_times),
        raw: Summary::of_durations_ms(&raw_times),
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

/// What an app would write without the library: one reqwest client, the same request.
struct RawSignIn {
    http: reqwest::Client,
    url: String,
    body: Vec<u8>,
}

impl RawSignIn {
    fn new(fixture: &Fixture) -> BoxResult<Self> {
        // Same TLS stack as the library (unused on loopback http, but reqwest needs a backend).
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
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
