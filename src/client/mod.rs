//! The client's core: the async operations around the state machine in `session::lifecycle`,
//! one file per operation (`sign_in`, `refresh`, `elevate` for step-up, `expiry`, `sign_out`,
//! `restore` with persistence), the pure arithmetic they schedule by (`plan`), and the
//! background task that schedules them (`scheduler`). This file holds `Core` itself, its
//! synchronous reads, and the server clock. The exported objects in `api` delegate here.
//!
//! May import: every layer below `api` (`config`, `device`, `error`, `jwt`, `network`, `ports`,
//! `session`, `support`).
//!
//! Every operation follows one pattern: take a ticket from the state machine, do the network or
//! storage work without holding any lock, then hand the result back to the state machine, which
//! keeps it only if nothing newer happened meanwhile.

mod elevate;
mod expiry;
mod plan;
mod refresh;
mod restore;
pub(crate) mod scheduler;
mod sign_in;
mod sign_out;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use dynamic_byoa_contract::{ExternalAuthAssertionResponse, VerifyResponse, paths};

use crate::config::{ClientConfig, Settings};
use crate::device::{Binding, SessionKey, check_bound, is_nonce_refusal, session_key_header};
use crate::error::{ByoaError, Error};
use crate::jwt::exchange::{self, SignInWithExternalJwtParams};
use crate::jwt::jwks::SessionKeys;
use crate::jwt::step_up::{self, ElevatedAccess, ElevatedTokens, VerifyWithExternalJwtParams};
use crate::network::{self, CONNECT_TIMEOUT, Reply, Transport};
use crate::ports::ClientDependencies;
use crate::ports::provider::ExternalJwtProvider;
use crate::ports::storage::{MemoryStorage, SessionStorage, StorageError};
use crate::session::events::{
    AuthListener, AuthState, ListenerHandle, ListenerOwner, SignOutReason,
};
use crate::session::lifecycle::{
    AfterRestore, Found, Lifecycle, RefreshTicket, Renewal, RestorePlan, SignInTicket,
};
use crate::session::record::{RecordProblem, StoredSession, session_key};
use crate::session::{Session, SessionTokens, SignedInSession};
use crate::support::clock::Clock;
use crate::support::logging::{LogLevel, log_at, target};
use crate::support::single_flight::SingleFlight;
use crate::support::time::from_unix_seconds;

/// Longest a sign-out waits for the server to acknowledge the revocation.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the bearer must still be valid when a step-up is sent with it.
const STEP_UP_MIN_TTL: i64 = 30;

/// Concurrent sign-ins with the same parameters share one request: (jwt, user id, key, epoch).
type SignInKey = (String, String, Option<String>, u64);

pub(crate) struct Core {
    settings: Arc<Settings>,
    transport: Transport,
    clock: Arc<dyn Clock>,
    storage: Arc<dyn SessionStorage>,
    /// `storage` is the built-in memory store (no store was given): calls to it run inline.
    storage_is_memory: bool,
    storage_key: String,
    /// Orders every access to the store: a write computed from an older state can never land
    /// after one computed from a newer state. Guards the store, not the session state (which
    /// lives in `session::lifecycle` and is never locked across an await).
    storage_gate: tokio::sync::Mutex<()>,
    lifecycle: Arc<Lifecycle>,
    keys: SessionKeys,
    /// Session key and device signatures (`device`).
    binding: Binding,
    provider: Mutex<Option<Arc<dyn ExternalJwtProvider>>>,
    sign_ins: SingleFlight<SignInKey, Result<SignedInSession, Error>>,
    /// The latest place in line among the callers of each sign-in in flight.
    joined: Mutex<std::collections::HashMap<SignInKey, SignInTicket>>,
    refreshes: SingleFlight<(), Result<SignedInSession, Error>>,
    restores: SingleFlight<(), AuthState>,
    reexchanges: SingleFlight<(), Option<SignedInSession>>,
    /// Automatic refresh failures in a row, and when the next attempt may be made (server time).
    retry: Mutex<RetryState>,
    /// The fresh-install reset is due at the first successful read of the store.
    fresh_install_pending: std::sync::atomic::AtomicBool,
    /// Elevated access tokens granted by step-ups, with the session they belong to.
    elevated: ElevatedTokens,
}

#[derive(Default)]
struct RetryState {
    failures: u32,
    not_before: Option<i64>,
    /// Failed storage writes in a row (the scheduler retries them with backoff).
    write_failures: u32,
}

impl Core {
    pub fn new(
        config: ClientConfig,
        dependencies: ClientDependencies,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, Error> {
        let settings = Arc::new(Settings::try_from(config)?);
        let ClientDependencies {
            storage,
            key_signer,
            jwt_provider,
            http_transport,
        } = dependencies;
        let http = match http_transport {
            Some(http) => http,
            None => {
                network::builtin(CONNECT_TIMEOUT.min(settings.timeout))?.ok_or(Error::Config {
                    field: "http_transport",
                    detail:
                        "this build of the library has no HTTP stack of its own (built without \
                         the reqwest-transport feature): pass the platform's HttpTransport"
                            .into(),
                })?
            }
        };
        // Nothing can be stored in a memory store nobody else holds: no restore to wait for.
        let nothing_stored = storage.is_none();
        let storage = storage.unwrap_or_else(|| Arc::new(MemoryStorage::new()));
        let binding = Binding::new(
            key_signer,
            settings.bind_session_key,
            &settings.environment_id,
        );
        let core = Arc::new(Self {
            binding,
            transport: Transport::new(settings.clone(), http, clock.clone()),
            storage_key: session_key(&settings.environment_id),
            fresh_install_pending: settings.fresh_install.into(),
            settings,
            clock,
            storage,
            storage_is_memory: nothing_stored,
            storage_gate: tokio::sync::Mutex::new(()),
            lifecycle: Lifecycle::new(nothing_stored),
            keys: SessionKeys::default(),
            provider: Mutex::new(jwt_provider),
            sign_ins: SingleFlight::default(),
            joined: Mutex::new(std::collections::HashMap::new()),
            refreshes: SingleFlight::default(),
            restores: SingleFlight::default(),
            reexchanges: SingleFlight::default(),
            retry: Mutex::new(RetryState::default()),
            elevated: ElevatedTokens::default(),
        });
        Ok(core)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn lifecycle(&self) -> &Arc<Lifecycle> {
        &self.lifecycle
    }

    // --- Reading (synchronous) ---

    pub fn state(&self) -> AuthState {
        self.notice_expiry();
        self.lifecycle.state()
    }

    /// The session, unless it has expired (then the scheduler is woken to end or renew it).
    pub fn current_session(&self) -> Option<Session> {
        self.notice_expiry();
        self.lifecycle
            .session()
            .filter(|s| self.server_now() < s.expires_at_unix())
    }

    pub fn tokens(&self) -> Option<Arc<SessionTokens>> {
        self.current_session().map(|s| s.tokens)
    }

    /// An expired session noticed by a synchronous call (say, after the app was suspended past
    /// its expiry) is handed to the scheduler, which ends or renews it.
    fn notice_expiry(&self) {
        if self.lifecycle.expired_session(self.server_now()).is_some() {
            self.lifecycle.poke();
        }
    }

    pub fn add_listener(self: &Arc<Self>, listener: Arc<dyn AuthListener>) -> ListenerHandle {
        let id = self.lifecycle.add_listener(listener);
        let owner: Arc<dyn ListenerOwner> = self.lifecycle.clone();
        ListenerHandle {
            id,
            owner: Arc::downgrade(&owner),
        }
    }

    pub fn set_provider(&self, provider: Option<Arc<dyn ExternalJwtProvider>>) {
        *self.provider.lock().unwrap_or_else(|p| p.into_inner()) = provider;
    }

    fn provider(&self) -> Option<Arc<dyn ExternalJwtProvider>> {
        self.provider
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    // --- Device binding ---

    /// Starts filling the nonce pool in the background when a key signer is configured, so that
    /// the first sign-in or refresh finds a nonce waiting.
    pub fn prefetch_nonces(&self) {
        self.binding
            .refill_if_low(&self.transport, self.server_now());
    }

    // --- Time ---

    /// Unix seconds on the server's clock, as far as it is known.
    pub fn server_now(&self) -> i64 {
        self.clock
            .now_unix()
            .saturating_add(self.lifecycle.server_offset())
    }

    /// Adopts the offset a response measured on arrival (`Reply::server_offset`).
    fn learn_server_time(&self, server_offset: Option<i64>) {
        if let Some(offset) = server_offset {
            self.lifecycle.set_server_offset(offset);
        }
    }
}
