//! The running emulator: binds, serves the routes in the background, and exposes the test hooks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{EmulatorConfig, EnvironmentConfig};
use crate::connection::{ConnectionHandle, KillableListener};
use crate::error::EmulatorError;
use crate::faults::Fault;
use crate::jwks_cache::{JwksCache, http_client};
use crate::keys::SigningKey;
use crate::routes;
use crate::state::State;
use crate::tokens::Minter;

/// How long [`Emulator::shutdown`] waits for in-flight requests before aborting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What every request handler sees.
pub(crate) struct Shared {
    pub environments: HashMap<String, Arc<EnvironmentConfig>>,
    /// Each environment's session-token key: Dynamic's key is unique per environment.
    keys: HashMap<String, SigningKey>,
    pub jwks: JwksCache,
    pub leeway: Duration,
    /// `host:port` the emulator listens on, the prefix of its tokens' `iss`.
    pub host: String,
    /// TCP connections accepted.
    pub connections: Arc<AtomicUsize>,
    /// Seconds added to the real clock: tests move the emulator's time (`advance_time`).
    time_offset: std::sync::atomic::AtomicI64,
    /// Held for reading by every request from its arrival until its `Date` is stamped, and for
    /// writing by [`Emulator::pause_time`]: a caller moving several clocks at once (the
    /// emulator's, an issuer's, a device's) then knows no answer is stamped halfway through.
    pub(crate) time_gate: Arc<tokio::sync::RwLock<()>>,
    state: Mutex<State>,
}

impl Shared {
    /// The key of a configured environment (the route guard has resolved it already).
    pub(crate) fn key(&self, environment_id: &str) -> &SigningKey {
        &self.keys[environment_id]
    }

    /// What mints `env`'s session tokens: its key, this host, its session lifetime, now.
    pub(crate) fn minter<'a>(&'a self, env: &'a EnvironmentConfig) -> Minter<'a> {
        Minter {
            key: self.key(&env.environment_id),
            host: &self.host,
            environment_id: &env.environment_id,
            ttl: env.session_ttl,
            now: self.now(),
        }
    }

    /// The emulator's time in unix seconds: the real clock plus the offset tests set. Every
    /// time decision (minting, expiry checks, the `Date` header) uses it.
    pub(crate) fn now(&self) -> i64 {
        crate::tokens::unix_now() + self.time_offset.load(Ordering::SeqCst)
    }

    /// The single lock over all mutable state. Callers must not hold it across an `.await`.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // A panicking handler cannot leave the maps half-updated in a way that matters for an
        // emulator, so recover from poisoning rather than failing every later request.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Holds requests to one route until released; see [`Emulator::hold`].
pub struct Hold {
    release: tokio::sync::watch::Sender<bool>,
}

impl Hold {
    /// Lets held requests (and later ones) through.
    pub fn release(self) {
        drop(self);
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.release.send_replace(true);
    }
}

/// Handle of a running emulator. [`Emulator::shutdown`] stops it and waits; dropping the
/// handle stops it in the background.
pub struct Emulator {
    addr: SocketAddr,
    base_path: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Validates `config`, binds `config.bind` and starts serving in a background task.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        config.validate()?;
        let base_path = config.normalized_base_path()?;
        let keys = signing_keys(&config).await?;
        let listener =
            TcpListener::bind(config.bind)
                .await
                .map_err(|source| EmulatorError::Bind {
                    addr: config.bind,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: config.bind,
                source,
            })?;
        let shared = Arc::new(Shared {
            time_gate: Arc::default(),
            state: Mutex::new(State::new(
                config
                    .environments
                    .iter()
                    .map(|env| env.environment_id.as_str()),
            )),
            environments: config
                .environments
                .into_iter()
                .map(|env| (env.environment_id.clone(), Arc::new(env)))
                .collect(),
            keys,
            jwks: JwksCache::new(http_client()?),
            leeway: config.leeway,
            host: addr.to_string(),
            connections: Arc::new(AtomicUsize::new(0)),
            time_offset: std::sync::atomic::AtomicI64::new(0),
        });
        let router = routes::router(shared.clone(), &base_path);
        let (stop, server) = serve(listener, shared.connections.clone(), router);
        Ok(Emulator {
            addr,
            base_path,
            shared,
            stop: Some(stop),
            server: Some(server),
        })
    }

    /// The API base, e.g. `http://127.0.0.1:54321/api/v0`, as a client's `apiBaseUrl`.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.base_path)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The key signing `environment_id`'s session tokens (its JWKS serves the public half).
    pub fn signing_key(&self, environment_id: &str) -> Option<&SigningKey> {
        self.shared.keys.get(environment_id)
    }

    /// TCP connections accepted since the start: with HTTP keep-alive, a client making several
    /// requests in a row opens one.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Requests that reached `route` (as in `contract::paths`, e.g. `"externalAuth/signin"`) for
    /// `environment_id`, faulted and refused ones included. CORS preflights are not counted.
    pub fn request_count(&self, environment_id: &str, route: &str) -> usize {
        self.shared.state().request_count(environment_id, route)
    }

    /// When each request to `route` for `environment_id` arrived, in order, on the emulator's
    /// clock (see [`Emulator::advance_time`]): lets a test prove *when* a client acted.
    pub fn request_times(&self, environment_id: &str, route: &str) -> Vec<std::time::SystemTime> {
        self.shared
            .state()
            .request_times(environment_id, route)
            .into_iter()
            .map(|t| std::time::UNIX_EPOCH + Duration::from_secs(t.max(0) as u64))
            .collect()
    }

    /// The next `faults.len()` requests to `route`, in any environment, get these responses in
    /// order instead of the real handler. Appends to faults already queued.
    pub fn inject_faults(&self, route: &str, faults: Vec<Fault>) {
        self.shared.state().push_faults(route, faults);
    }

    /// Moves the emulator's clock forward by `by` (tokens it mints, expiry it checks and the
    /// `Date` header it sends all follow), so tests can let hours pass in no time.
    pub fn advance_time(&self, by: Duration) {
        self.shared
            .time_offset
            .fetch_add(by.as_secs() as i64, Ordering::SeqCst);
    }

    /// Waits until no request is between its arrival and its `Date` stamp, then keeps new ones
    /// waiting at the door until the returned guard is dropped. Move every clock of a test
    /// world while holding it, so that no answer is stamped with the emulator's new time and
    /// read on a device clock that has not moved yet (which reads as a server ahead of the
    /// device). Do not hold it while waiting for a request to finish: that request waits too.
    pub async fn pause_time(&self) -> tokio::sync::OwnedRwLockWriteGuard<()> {
        self.shared.time_gate.clone().write_owned().await
    }

    /// The emulator's current time (see [`Emulator::advance_time`]).
    pub fn now(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(self.shared.now().max(0) as u64)
    }

    /// Makes requests to `route` (any environment) wait, after being counted, until the returned
    /// [`Hold`] is released or dropped: a test can then act while a request is in flight.
    pub fn hold(&self, route: &str) -> Hold {
        let (release, released) = tokio::sync::watch::channel(false);
        self.shared.state().set_hold(route, released);
        Hold { release }
    }

    /// Revokes every session of the environment: their tokens then get 401.
    pub fn revoke_all_sessions(&self, environment_id: &str) {
        if let Some(env) = self.shared.state().env_mut(environment_id) {
            env.revoke_all();
        }
    }

    /// Spends every nonce the environment has issued, as if requests had presented them: a
    /// client's pooled nonces then read as reused (the server's view of a replayed capture).
    pub fn spend_nonces(&self, environment_id: &str) {
        if let Some(env) = self.shared.state().env_mut(environment_id) {
            env.nonces.spend_all();
        }
    }

    /// The device key (compressed P-256, hex) the session `sid` was signed in with, if its
    /// sign-in carried a valid device signature.
    pub fn session_device_key(&self, environment_id: &str, sid: &str) -> Option<String> {
        self.shared
            .state()
            .env(environment_id)
            .and_then(|env| env.active_session(sid))
            .and_then(|(session, _)| session.device_public_key)
    }

    /// The `x-dyn-logout-reason` of the environment's last revoke request that carried one.
    pub fn last_logout_reason(&self, environment_id: &str) -> Option<String> {
        self.shared
            .state()
            .env(environment_id)
            .and_then(|env| env.last_logout_reason.clone())
    }

    /// Dynamic users created so far in the environment.
    pub fn user_count(&self, environment_id: &str) -> usize {
        self.shared
            .state()
            .env(environment_id)
            .map_or(0, |env| env.user_count())
    }

    /// Stops accepting, lets in-flight requests finish (up to a few seconds), then returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
                .await
                .is_err()
        {
            server.abort();
        }
    }
}

impl Drop for Emulator {
    /// Starts a graceful shutdown in the background rather than aborting the server task:
    /// aborting would stop new connections but leave already-open keep-alive connections
    /// (each served by its own task) answering, whereas the graceful path closes them too.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One key per environment, as Dynamic has; `config.signing_key`, when given, serves them all
/// (tests share one because RSA-2048 generation is the slow part of a start).
async fn signing_keys(
    config: &EmulatorConfig,
) -> Result<HashMap<String, SigningKey>, EmulatorError> {
    let mut keys = HashMap::new();
    for env in &config.environments {
        let key = match &config.signing_key {
            Some(key) => key.clone(),
            // RSA generation is CPU-bound; keep it off the async workers.
            None => tokio::task::spawn_blocking(SigningKey::generate)
                .await
                .map_err(|e| EmulatorError::Key(format!("key generation failed: {e}")))?,
        };
        keys.insert(env.environment_id.clone(), key);
    }
    Ok(keys)
}

/// Runs the router on `listener` until the returned sender fires (or is dropped).
fn serve(
    listener: TcpListener,
    connections: Arc<AtomicUsize>,
    router: axum::Router,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let service = router.into_make_service_with_connect_info::<ConnectionHandle>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(KillableListener::new(listener, connections), service)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, server)
}
