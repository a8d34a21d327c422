//! Shared fixtures for the integration tests: a real external issuer with a JWKS endpoint and the
//! Dynamic emulator, both on loopback sockets, and a client pointed at the emulator.

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dynamic_byoa::{
    ByoaError, ClientConfig, DynamicClient, SignInWithExternalJwtParams, SignedInSession,
};
use dynamic_byoa_emulator::{Emulator, EmulatorConfig, EnvironmentConfig, SigningKey, TestIssuer};

pub const ENV: &str = "2762a57b-faa4-41ce-9f16-abff9300e2c9";
pub const OTHER_ENV: &str = "0b0c1f6e-8c1d-4c3e-9f5a-1a2b3c4d5e6f";

/// RSA key generation is the slowest step of an emulator start; every test shares one key.
pub fn signing_key() -> SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(SigningKey::generate).clone()
}

pub struct Fixture {
    pub issuer: TestIssuer,
    pub emulator: Emulator,
}

impl Fixture {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts an issuer and an emulator whose environment `ENV` trusts it; `tune` adjusts the
    /// environment before the emulator starts.
    pub async fn start_with(tune: impl FnOnce(&mut EnvironmentConfig)) -> Self {
        let issuer = TestIssuer::start().await.expect("issuer starts");
        let mut environment = EnvironmentConfig::new(ENV, issuer.issuer(), issuer.jwks_url());
        tune(&mut environment);
        let config = EmulatorConfig {
            environments: vec![environment],
            signing_key: Some(signing_key()),
            ..EmulatorConfig::default()
        };
        let emulator = Emulator::start(config).await.expect("emulator starts");
        Self { issuer, emulator }
    }

    pub fn config(&self) -> ClientConfig {
        ClientConfig::new(ENV).with_api_base_url(self.emulator.base_url())
    }

    pub fn client(&self) -> Arc<DynamicClient> {
        DynamicClient::new(self.config()).expect("valid config")
    }

    /// A valid external JWT for `sub`, one hour long.
    pub fn jwt_for(&self, sub: &str) -> String {
        self.issuer
            .mint(&self.issuer.claims_for(sub, Duration::from_secs(3600)))
    }

    pub fn signin_requests(&self) -> usize {
        self.emulator.request_count(ENV, "externalAuth/signin")
    }
}

pub fn params(jwt: &str, user: &str) -> SignInWithExternalJwtParams {
    SignInWithExternalJwtParams {
        external_jwt: jwt.to_owned(),
        external_user_id: user.to_owned(),
        session_public_key: None,
    }
}

pub async fn sign_in(
    client: &DynamicClient,
    jwt: &str,
    user: &str,
) -> Result<SignedInSession, ByoaError> {
    client
        .auth()
        .external()
        .sign_in_with_external_jwt(params(jwt, user))
        .await
}

/// No part of `jwt` (header, payload or signature segment) may appear in an error's texts.
pub fn assert_no_token_in(error: &ByoaError, jwt: &str) {
    let texts = [error.to_string(), format!("{error:?}")];
    for segment in jwt.split('.').filter(|s| s.len() >= 8) {
        for text in &texts {
            assert!(!text.contains(segment), "token segment leaked into {text}");
        }
    }
}

/// A bare HTTP/1.1 server on loopback that records each raw request and answers every one with
/// `status` and `body`; for asserting exactly what goes on the wire.
pub struct CaptureServer {
    pub base_url: String,
    requests: Arc<std::sync::Mutex<Vec<String>>>,
}

impl CaptureServer {
    pub async fn start(status: u16, body: String) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/api/v0", listener.local_addr().unwrap());
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                while !request_complete(&raw) {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => raw.extend_from_slice(&buf[..n]),
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&raw).into_owned());
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        Self { base_url, requests }
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn request_complete(raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(raw);
    let Some(head_end) = text.find("\r\n\r\n") else {
        return false;
    };
    let length = text[..head_end]
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    raw.len() >= head_end + 4 + length
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A loopback server that accepts connections and never answers.
pub async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v0", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (base, task)
}
