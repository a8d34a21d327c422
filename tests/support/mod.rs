//! Shared fixtures for the integration tests: a real external issuer with a JWKS endpoint and the
//! Dynamic emulator, both on loopback sockets, and a client pointed at the emulator.

#![allow(dead_code)]

use dynamic_byoa::ClientDependencies;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dynamic_byoa::clock::Clock;
use dynamic_byoa::{
    AuthListener, AuthState, ByoaError, ClientConfig, DynamicClient, MemoryStorage, SessionStorage,
    SignInWithExternalJwtParams, SignedInSession, StorageError,
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
        DynamicClient::new(self.config(), Default::default()).expect("valid config")
    }

    /// A client on `storage` and `clock`, with `config`.
    pub fn client_with(
        &self,
        config: ClientConfig,
        storage: Arc<dyn SessionStorage>,
        clock: Arc<dyn Clock>,
    ) -> Arc<DynamicClient> {
        DynamicClient::with_clock(
            config,
            ClientDependencies {
                storage: Some(storage),
                ..Default::default()
            },
            clock,
        )
        .expect("valid config")
    }

    /// Lets `by` pass everywhere: on the device (`clock`), at the emulator and at the issuer.
    /// (Moving only `clock` makes the device clock wrong instead.)
    pub fn pass_time(&self, clock: &dynamic_byoa::clock::ManualClock, by: Duration) {
        self.emulator.advance_time(by);
        self.issuer.advance_time(by);
        clock.advance(by);
    }

    pub fn requests(&self, route: &str) -> usize {
        self.emulator.request_count(ENV, route)
    }

    /// A valid external JWT for `sub`, one hour long.
    pub fn jwt_for(&self, sub: &str) -> String {
        self.issuer
            .mint(&self.issuer.claims_for(sub, Duration::from_secs(3600)))
    }

    /// A step-up assertion for `sub` (contract §4.9): signed by the issuer like a sign-in JWT,
    /// with `scope`, a `jti` and, when asked, `singleUse`. Five minutes long.
    pub fn assertion_for(&self, sub: &str, scope: &str, jti: &str, single_use: bool) -> String {
        let mut claims = self.issuer.claims_for(sub, Duration::from_secs(300));
        claims["scope"] = scope.into();
        claims["jti"] = jti.into();
        if single_use {
            claims["singleUse"] = true.into();
        }
        self.issuer.mint(&claims)
    }

    /// Waits (bounded, see [`wait_until`]) until a request to `route` has arrived.
    pub async fn wait_for_request(&self, route: &str) {
        wait_until(&format!("a request to {route}"), || {
            self.requests(route) > 0
        })
        .await;
    }

    pub fn signin_requests(&self) -> usize {
        self.emulator.request_count(ENV, "externalAuth/signin")
    }
}

/// The one way the tests wait for something to happen: polls `done` every 2 ms and fails the
/// test after 10 s (a bound against a hang, not a pause: it returns as soon as `done` holds).
pub async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
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

/// `auth().external().verify_with_external_jwt` with `assertion`.
pub async fn step_up(
    client: &DynamicClient,
    assertion: &str,
) -> Result<dynamic_byoa::ElevatedAccess, ByoaError> {
    client
        .auth()
        .external()
        .verify_with_external_jwt(dynamic_byoa::VerifyWithExternalJwtParams {
            external_jwt: assertion.to_owned(),
        })
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

/// Every state a listener heard, in order; a test can await one.
pub struct Recorder {
    states: tokio::sync::watch::Sender<Vec<AuthState>>,
}

impl Recorder {
    pub fn attach(client: &DynamicClient) -> Arc<Self> {
        let recorder = Self::new_detached();
        // The handle is not kept: a listener stays until removed.
        let _ = client.auth().add_listener(recorder.clone());
        recorder
    }

    pub fn new_detached() -> Arc<Self> {
        Arc::new(Self {
            states: tokio::sync::watch::Sender::new(Vec::new()),
        })
    }

    pub fn states(&self) -> Vec<AuthState> {
        self.states.borrow().clone()
    }

    /// Waits (at most 10 s, a bound, not a pause) until a state satisfying `wanted` was heard.
    pub async fn wait_for(&self, what: &str, wanted: impl Fn(&AuthState) -> bool) -> AuthState {
        let mut seen = self.states.subscribe();
        let found = tokio::time::timeout(
            Duration::from_secs(10),
            seen.wait_for(|states| states.iter().any(&wanted)),
        )
        .await;
        match found {
            Ok(Ok(states)) => states.iter().find(|s| wanted(s)).cloned().unwrap(),
            _ => panic!("never heard {what}; heard {:?}", self.states()),
        }
    }
}

impl AuthListener for Recorder {
    fn on_state_changed(&self, state: AuthState) {
        self.states.send_modify(|states| states.push(state));
    }
}

/// SIMULATED KEYCHAIN (a mock, for what cannot run here): a phone's secure store that can be
/// "locked" (reads and writes fail as `Unavailable`, as iOS does before first unlock) and can
/// be made to fail outright.
#[derive(Default)]
pub struct SimulatedKeychain {
    inner: MemoryStorage,
    locked: std::sync::atomic::AtomicBool,
    broken: std::sync::atomic::AtomicBool,
    writes: std::sync::atomic::AtomicUsize,
}

impl SimulatedKeychain {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn set_locked(&self, locked: bool) {
        self.locked
            .store(locked, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn set_broken(&self, broken: bool) {
        self.broken
            .store(broken, std::sync::atomic::Ordering::SeqCst);
    }

    /// Successful `set` calls so far.
    pub fn writes(&self) -> usize {
        self.writes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The raw stored value, bypassing the lock.
    pub fn peek(&self, key: &str) -> Option<String> {
        self.inner.get(key.to_owned()).unwrap()
    }

    pub fn put(&self, key: &str, value: &str) {
        self.inner.set(key.to_owned(), value.to_owned()).unwrap();
    }

    fn check(&self) -> Result<(), StorageError> {
        if self.locked.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StorageError::Unavailable {
                detail: "errSecInteractionNotAllowed (simulated)".into(),
            });
        }
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StorageError::Failed {
                detail: "keystore entry corrupted (simulated)".into(),
            });
        }
        Ok(())
    }
}

impl SessionStorage for SimulatedKeychain {
    fn get(&self, key: String) -> Result<Option<String>, StorageError> {
        self.check()?;
        self.inner.get(key)
    }

    fn set(&self, key: String, value: String) -> Result<(), StorageError> {
        self.check()?;
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.set(key, value)
    }

    fn delete(&self, key: String) -> Result<(), StorageError> {
        self.check()?;
        self.inner.delete(key)
    }
}

/// The storage key of `environment_id`'s session.
pub fn session_key(environment_id: &str) -> String {
    format!("dynamic_{environment_id}_session")
}

/// Polls `future` exactly once, as the first `await` of it would; `Some` if that finished it.
/// (`tokio::time::timeout(Duration::ZERO, ..)` is not this: its zero-length timer may wait for
/// the next millisecond tick, and the future can complete meanwhile.)
pub async fn poll_once<F: std::future::Future + Unpin>(future: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| match std::pin::Pin::new(&mut *future).poll(cx) {
        std::task::Poll::Ready(output) => std::task::Poll::Ready(Some(output)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await
}

/// `time` in milliseconds since the Unix epoch: how the API states an instant.
pub fn epoch_ms(time: std::time::SystemTime) -> i64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

/// A client with `config` on `storage`, every other dependency default.
pub fn client_on_storage(
    config: ClientConfig,
    storage: Arc<dyn SessionStorage>,
) -> Arc<DynamicClient> {
    let dependencies = dynamic_byoa::ClientDependencies {
        storage: Some(storage),
        ..Default::default()
    };
    DynamicClient::new(config, dependencies).expect("valid config")
}
