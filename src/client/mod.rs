//! The client's core: the async operations (sign-in, refresh, sign-out, restore) around the
//! state machine in `session::lifecycle`, and the background task that schedules them
//! (`scheduler`). The exported objects in `api` delegate here.
//!
//! May import: every layer below `api` (`config`, `device`, `error`, `jwt`, `network`, `ports`,
//! `session`, `support`).
//!
//! Every operation follows one pattern: take a ticket from the state machine, do the network or
//! storage work without holding any lock, then hand the result back to the state machine, which
//! keeps it only if nothing newer happened meanwhile.

pub(crate) mod scheduler;

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
/// First pause after a failed automatic refresh; doubled per failure up to `MAX_RETRY_PAUSE`.
const FIRST_RETRY_PAUSE: i64 = 10;
const MAX_RETRY_PAUSE: i64 = 300;
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

    // --- Sign-in ---

    /// Takes a sign-in's place in line. Called when the app makes the call (not later, when the
    /// work gets to run), so that a sign-out made after the call always cancels it.
    pub fn begin_sign_in(&self) -> SignInTicket {
        self.lifecycle.begin_sign_in()
    }

    pub async fn sign_in_with_external_jwt(
        &self,
        params: SignInWithExternalJwtParams,
        ticket: SignInTicket,
    ) -> Result<SignedInSession, Error> {
        let body = self.checked_body(&params).await?;
        // Identical calls share one request, unless a sign-out separates them.
        let key = (
            body.jwt.clone().unwrap_or_default(),
            params.external_user_id.clone(),
            body.session_public_key.clone(),
            ticket.epoch(),
        );
        self.persist().await;
        // A caller that joins a request in flight brings its (later) place in line with it:
        // the shared result is kept as if the latest of them had sent it.
        self.latest_ticket(&key, ticket);
        let latest = || self.take_latest_ticket(&key).unwrap_or(ticket);
        let result = self
            .sign_ins
            .run(key.clone(), || async {
                self.exchange(&body, latest, None).await
            })
            .await;
        self.forget_ticket(&key, ticket);
        result
    }

    /// Records `ticket` for the sign-ins in flight with `key`, if it is the latest.
    fn latest_ticket(&self, key: &SignInKey, ticket: SignInTicket) {
        let mut joined = self.joined.lock().unwrap_or_else(|p| p.into_inner());
        let latest = joined.entry(key.clone()).or_insert(ticket);
        if ticket.number() > latest.number() {
            *latest = ticket;
        }
    }

    fn take_latest_ticket(&self, key: &SignInKey) -> Option<SignInTicket> {
        let mut joined = self.joined.lock().unwrap_or_else(|p| p.into_inner());
        joined.remove(key)
    }

    /// Drops a record a late joiner left after the request it joined was kept.
    fn forget_ticket(&self, key: &SignInKey, ticket: SignInTicket) {
        let mut joined = self.joined.lock().unwrap_or_else(|p| p.into_inner());
        if joined
            .get(key)
            .is_some_and(|latest| latest.number() <= ticket.number())
        {
            joined.remove(key);
        }
    }

    /// The preflight, on the server's clock.
    async fn checked_body(
        &self,
        params: &SignInWithExternalJwtParams,
    ) -> Result<dynamic_byoa_contract::ExternalAuthSigninRequest, Error> {
        let leeway = self.settings.leeway_seconds;
        self.on_server_clock(|now| exchange::signin_body(params, now, leeway))
            .await
    }

    /// Runs a preflight `check` at the server's time. A time-window failure before the server's
    /// time is known may be the device clock's fault, not the token's: ask the server for the
    /// time (one small request that also fetches the keys the exchange needs) and check again.
    async fn on_server_clock<T>(
        &self,
        check: impl Fn(i64) -> Result<T, Error>,
    ) -> Result<T, Error> {
        match check(self.server_now()) {
            Err(Error::Preflight(problem))
                if problem.is_time_window() && !self.lifecycle.time_known() =>
            {
                if let Ok(date) = self.keys.fetch_server_offset(&self.transport).await {
                    self.learn_server_time(date);
                }
                check(self.server_now())
            }
            checked => checked,
        }
    }

    /// `ticket` is read when the result is kept, not before: callers may join meanwhile.
    /// With a key signer, the sign-in is bound to a new session key (deleted again if the
    /// sign-in fails) and carries the device proof (`device`).
    async fn exchange(
        &self,
        body: &dynamic_byoa_contract::ExternalAuthSigninRequest,
        ticket: impl FnOnce() -> SignInTicket,
        renewing: Option<&Renewal>,
    ) -> Result<SignedInSession, Error> {
        let mut body = body.clone();
        let session_key = match &body.session_public_key {
            Some(app_key) => Some(SessionKey {
                name: None,
                public_key: app_key.clone(),
            }),
            None => self.binding.create_session_key().await?,
        };
        body.session_public_key = session_key.as_ref().map(|k| k.public_key.clone());
        let result = self
            .exchange_bound(&body, ticket, renewing, session_key.clone())
            .await;
        if result.is_err() {
            // Only the key this attempt created: the current session's key is untouched.
            self.binding.delete_session_key(session_key.as_ref()).await;
        }
        result
    }

    async fn exchange_bound(
        &self,
        body: &dynamic_byoa_contract::ExternalAuthSigninRequest,
        ticket: impl FnOnce() -> SignInTicket,
        renewing: Option<&Renewal>,
        session_key: Option<SessionKey>,
    ) -> Result<SignedInSession, Error> {
        // The keys are fetched while the exchange is in flight: one round trip on the critical
        // path. A failed prefetch is retried (and reported) by `verify`.
        let bound_to = body.session_public_key.as_deref();
        let (reply, _) = tokio::join!(
            self.send_proven(bound_to, |transport| async move {
                transport
                    .post_json::<_, VerifyResponse>(paths::EXTERNAL_AUTH_SIGNIN, body, None)
                    .await
            }),
            self.keys.prefetch(&self.transport)
        );
        let reply = reply?;
        let mut session = self
            .accept(reply, body.session_public_key.as_deref())
            .await?;
        session.session_key = session_key;
        match self
            .lifecycle
            .keep_sign_in(ticket(), renewing, session.clone())
        {
            Ok(replaced) => {
                self.reset_retries();
                if let Some(old) = replaced.filter(|old| !old.same_token(&session)) {
                    self.revoke_in_background(old, SignOutReason::Replaced);
                }
                self.persist().await;
                Ok(session.profile)
            }
            Err(discarded) => {
                // Nobody will use this session: end it on the server too.
                self.revoke_in_background(session, SignOutReason::Replaced);
                Err(discarded)
            }
        }
    }

    /// Sends a sign-in or refresh with the device proof (and the session key `bound_to`). A
    /// refusal of the nonce itself (unknown, reused, expired: a stale pool, a lost race) empties
    /// the pool and is tried once more with a fresh nonce; other errors are explained by
    /// `Binding::explain`.
    async fn send_proven<T, F, Fut>(&self, bound_to: Option<&str>, send: F) -> Result<T, Error>
    where
        F: Fn(Transport) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut retried = false;
        loop {
            let proof = self
                .binding
                .device_proof(&self.transport, self.server_now())
                .await;
            match send(self.transport.with_headers(proof.headers(bound_to))).await {
                Err(error) if !retried && is_nonce_refusal(&error) => {
                    let _ = self.binding.explain(error, &proof);
                    retried = true;
                }
                result => return result.map_err(|error| self.binding.explain(error, &proof)),
            }
        }
    }

    /// Turns a sign-in or refresh response into a session, after checking its token against
    /// the environment's keys and, when `bound_to` is given, that it carries that session key.
    /// A token that fails a check is revoked, never kept.
    async fn accept(
        &self,
        reply: Reply<VerifyResponse>,
        bound_to: Option<&str>,
    ) -> Result<Session, Error> {
        self.learn_server_time(reply.server_offset);
        let session = Session::from_response(&reply.body, 200, self.server_now())?;
        let verified = self
            .keys
            .verify(
                &self.transport,
                session.bearer(),
                &self.settings.environment_id,
                session.user_id(),
            )
            .await
            .and_then(|()| check_bound(session.bearer(), bound_to));
        if let Err(error) = verified {
            self.revoke_in_background(session, SignOutReason::Replaced);
            return Err(error);
        }
        Ok(session)
    }

    // --- Refresh ---

    pub async fn refresh(&self) -> Result<SignedInSession, Error> {
        self.restore_if_unsettled().await;
        self.persist().await;
        self.refreshes
            .run((), || async { self.refresh_once().await })
            .await
    }

    async fn refresh_once(&self) -> Result<SignedInSession, Error> {
        let ticket = self.lifecycle.begin_refresh()?;
        let session_key = ticket.session.session_key.clone();
        let bound_to = session_key.as_ref().map(|k| k.public_key.as_str());
        let bearer = ticket.session.bearer();
        let reply = self
            .send_proven(bound_to, |transport| async move {
                transport
                    .post_bearer::<VerifyResponse>(paths::REFRESH, bearer)
                    .await
            })
            .await;
        match reply {
            Ok(reply) => {
                // Dynamic keeps the session key through a refresh: the new token must carry it.
                let mut session = self.accept(reply, bound_to).await?;
                if session.user_id() != ticket.session.user_id() {
                    self.revoke_in_background(session, SignOutReason::Replaced);
                    return Err(Error::Incomplete {
                        status: 200,
                        detail: "the refresh answered with another user's session",
                    });
                }
                // Set only now: revoking a stray token above must not delete the current key.
                session.session_key = session_key;
                let kept = self.lifecycle.keep_refresh(&ticket, session)?;
                self.reset_retries();
                self.persist().await;
                Ok(kept)
            }
            Err(error) if error.is_unauthorized() => {
                let reason = if error.says_revoked() {
                    SignOutReason::Revoked
                } else {
                    SignOutReason::RefreshUnauthorized
                };
                self.give_up(&ticket, reason).await.ok_or(error)
            }
            Err(error) => Err(error),
        }
    }

    // --- An always-fresh access token ---

    /// The current session if its bearer outlives `min_ttl_seconds` (server clock), else the
    /// session after a refresh: the one in flight if there is one, never a second. With
    /// `force_refresh`, a refresh made after this call started. Signed out: `NotSignedIn`.
    pub async fn fresh_session(
        &self,
        min_ttl_seconds: i64,
        force_refresh: bool,
    ) -> Result<Session, Error> {
        let seen = self.usable_session().await?;
        if !force_refresh && self.outlives(&seen, min_ttl_seconds) {
            return Ok(seen);
        }
        self.refresh_after(&seen).await?;
        if force_refresh && self.current_session().is_some_and(|s| s.same_token(&seen)) {
            // Joined a refresh that had just produced `seen` itself (its run was not yet
            // cleared): forced means newer than what the caller saw, so refresh once more.
            self.refresh_after(&seen).await?;
        }
        self.current_session().ok_or(Error::NotSignedIn)
    }

    /// The session a call can use: restored if it was not yet, renewed through the provider or
    /// ended if it expired.
    async fn usable_session(&self) -> Result<Session, Error> {
        self.restore_if_unsettled().await;
        if let AuthState::StorageUnavailable { error } = self.lifecycle.state() {
            return Err(Error::Storage(error));
        }
        if self.lifecycle.expired_session(self.server_now()).is_some() {
            self.handle_expiry().await;
        }
        self.current_session().ok_or(Error::NotSignedIn)
    }

    /// True when `session` is valid for `min_ttl_seconds` more on the server's clock. A minimum
    /// over half the session's lifetime counts as half of it: otherwise a server granting short
    /// sessions would make every call refresh.
    fn outlives(&self, session: &Session, min_ttl_seconds: i64) -> bool {
        let expires = session.expires_at_unix();
        let lifetime = expires.saturating_sub(session.received_at).max(0);
        let min_ttl = min_ttl_seconds.min(lifetime / 2);
        expires.saturating_sub(self.server_now()) > min_ttl
    }

    /// Refreshes `seen`, unless it was replaced since the caller looked (a refresh that
    /// finished meanwhile, or a new sign-in): then the current session is as new as a refresh
    /// would make it, and no request is sent. Shares the refresh in flight, if any.
    async fn refresh_after(&self, seen: &Session) -> Result<SignedInSession, Error> {
        self.persist().await;
        self.refreshes
            .run((), || async {
                if let Some(current) = self.current_session()
                    && !current.same_token(seen)
                {
                    return Ok(current.profile);
                }
                self.refresh_once().await
            })
            .await
    }

    // --- Step-up ---

    /// `POST externalAuth/verify` with the session bearer and a fresh assertion from the app's
    /// provider (contract §4.9). The assertion is checked on the device first, like a sign-in JWT
    /// plus `scope` and `jti`, and its `sub` must be the signed-in external user. The elevated
    /// token is checked against the environment's keys and kept with the session.
    pub async fn verify_with_external_jwt(
        &self,
        params: VerifyWithExternalJwtParams,
    ) -> Result<ElevatedAccess, Error> {
        let session = self.usable_session().await?;
        let generation = self.lifecycle.generation().ok_or(Error::NotSignedIn)?;
        let external_user = session.profile.user.external_user_id.clone();
        let leeway = self.settings.leeway_seconds;
        let body = self
            .on_server_clock(|now| {
                step_up::assertion_body(&params, external_user.as_deref(), now, leeway)
            })
            .await?;
        // The same session, refreshed if its bearer is about to expire: the assertion was
        // checked against this session's user.
        let session = self.fresh_session(STEP_UP_MIN_TTL, false).await?;
        self.still_current(generation)?;
        let reply = self
            .transport
            // Like every request while a session key is held (contract §1.2).
            .with_headers(session_key_header(session.session_key.as_ref()))
            .post_json::<_, ExternalAuthAssertionResponse>(
                paths::EXTERNAL_AUTH_VERIFY,
                &body,
                Some(session.bearer()),
            )
            .await
            // A session that ended meanwhile explains a refusal (its bearer was revoked): say so.
            .map_err(|error| self.still_current(generation).err().unwrap_or(error))?;
        self.learn_server_time(reply.server_offset);
        let token = reply.body.elevated_access_token;
        let claims = step_up::read_claims(
            &token,
            &self.settings.environment_id,
            session.user_id(),
            self.server_now(),
        )?;
        // A sign-out (or any end of the session) while the request was in flight wins: the
        // token is not kept, and the app hears that the session changed.
        self.still_current(generation)?;
        let granted = self.elevated.keep(generation, token, &claims);
        log_at!(
            LogLevel::Info,
            target::SESSION,
            "step-up granted scopes [{}] until {}{}",
            granted.scopes.join(" "),
            claims.exp,
            if granted.single_use {
                ", single use"
            } else {
                ""
            }
        );
        Ok(granted)
    }

    /// `Ok` while the session of `generation` is the current one (refreshes included).
    fn still_current(&self, generation: u64) -> Result<(), Error> {
        match self.lifecycle.generation() {
            Some(current) if current == generation => Ok(()),
            Some(_) => Err(Error::SessionChanged),
            None => Err(Error::NotSignedIn),
        }
    }

    /// The elevated token for a call needing `scopes`, if a step-up of this session granted one
    /// that is unexpired; a single-use token is handed out once.
    pub fn elevated_access_token(&self, scopes: &[String]) -> Option<String> {
        self.current_session()?;
        let generation = self.lifecycle.generation()?;
        self.elevated.take(generation, scopes, self.server_now())
    }

    /// The session cannot be extended: re-exchange through the app's provider if there is one,
    /// else end the session with `reason`. Returns the re-exchanged session.
    async fn give_up(
        &self,
        ticket: &RefreshTicket,
        reason: SignOutReason,
    ) -> Option<SignedInSession> {
        let renewal = Renewal::Session(ticket.session.clone());
        if let Some(renewed) = self.reexchange(&renewal).await {
            return Some(renewed);
        }
        if let Some(ended) = self.lifecycle.end_if_current(&ticket.session, reason) {
            self.revoke_in_background(ended, reason);
            self.persist().await;
        }
        None
    }

    /// Asks the provider for a JWT of the same external user and exchanges it. The place in
    /// line is taken before the provider is asked, and the result is kept only if what it renews
    /// is still current: a sign-out, or a sign-in the user started meanwhile, always wins.
    async fn reexchange(&self, renewal: &Renewal) -> Option<SignedInSession> {
        let provider = self.provider()?;
        self.reexchanges
            .run((), || async {
                let ticket = self.begin_sign_in();
                if !self.lifecycle.is_current(renewal) {
                    return None;
                }
                let fetched =
                    tokio::time::timeout(self.settings.timeout, provider.fetch_external_jwt())
                        .await;
                let params = match fetched {
                    Ok(Ok(params)) => params,
                    Ok(Err(error)) => {
                        log_at!(
                            LogLevel::Warn,
                            target::SESSION,
                            "the JWT provider failed: {}",
                            error.scrubbed_detail()
                        );
                        return None;
                    }
                    Err(_) => {
                        log_at!(
                            LogLevel::Warn,
                            target::SESSION,
                            "the JWT provider timed out"
                        );
                        return None;
                    }
                };
                let (Renewal::Session(renewed) | Renewal::Restore(renewed)) = renewal;
                let expected = renewed.profile.user.external_user_id.as_deref();
                if expected.is_some_and(|id| id != params.external_user_id) {
                    log_at!(
                        LogLevel::Warn,
                        target::SESSION,
                        "the JWT provider returned another user's JWT; not used"
                    );
                    return None;
                }
                let exchanged = match self.checked_body(&params).await {
                    Ok(body) => self.exchange(&body, || ticket, Some(renewal)).await,
                    Err(error) => Err(error),
                };
                match exchanged {
                    Ok(session) => Some(session),
                    Err(error) => {
                        log_at!(
                            LogLevel::Warn,
                            target::SESSION,
                            "re-exchange failed: {}",
                            ByoaError::from(error).code_str()
                        );
                        None
                    }
                }
            })
            .await
    }

    // --- Expiry and automatic refresh ---

    /// Ends (or renews through the provider) a session that has expired. Before ending it, the
    /// server is asked for the time (one small request): the device clock may have been changed
    /// since it was calibrated, and a live session must not be thrown away for that. Offline,
    /// the device clock is trusted.
    pub async fn handle_expiry(&self) {
        if self.lifecycle.expired_session(self.server_now()).is_none() {
            return;
        }
        self.recalibrate().await;
        let Some(expired) = self.lifecycle.expired_session(self.server_now()) else {
            self.lifecycle.poke();
            return;
        };
        if self
            .reexchange(&Renewal::Session(expired.clone()))
            .await
            .is_some()
        {
            return;
        }
        if let Some(ended) = self
            .lifecycle
            .end_if_current(&expired, SignOutReason::Expired)
        {
            self.revoke_in_background(ended, SignOutReason::Expired);
            self.persist().await;
        }
    }

    /// Learns the server's time now (from the keys request's `Date`); failures are ignored.
    async fn recalibrate(&self) {
        if let Ok(date) = self.keys.fetch_server_offset(&self.transport).await {
            self.learn_server_time(date);
        }
    }

    /// When the scheduler should next act, on the device clock: `None` when signed out.
    pub fn next_wake(&self) -> Option<SystemTime> {
        let write_retry = self.write_retry_at();
        let Some(session) = self.lifecycle.session() else {
            return write_retry;
        };
        let expires = session.expires_at_unix();
        let mut at = expires;
        if self.settings.auto_refresh {
            let lifetime = expires.saturating_sub(session.received_at).max(0);
            let margin = self.settings.refresh_margin_seconds.min(lifetime / 2);
            let mut refresh_at = expires.saturating_sub(margin);
            if let Some(not_before) = self.retry_state().not_before {
                refresh_at = refresh_at.max(not_before);
            }
            at = refresh_at.min(expires);
        }
        let session_wake = from_unix_seconds(at.saturating_sub(self.lifecycle.server_offset()));
        Some(write_retry.map_or(session_wake, |retry| retry.min(session_wake)))
    }

    /// When to retry a storage write that failed (5 s, 10 s, ... up to a minute after now).
    fn write_retry_at(&self) -> Option<SystemTime> {
        let failures = self.retry_state().write_failures;
        if failures == 0 || !self.lifecycle.is_dirty() {
            return None;
        }
        let pause = (5u64 << (failures - 1).min(4)).min(60);
        Some(self.clock.now() + std::time::Duration::from_secs(pause))
    }

    /// The scheduler woke: retry a pending storage write, refresh if due, end the session if
    /// expired.
    pub async fn on_wake(&self) {
        self.persist().await;
        let now = self.server_now();
        let Some(session) = self.lifecycle.session() else {
            return;
        };
        if now >= session.expires_at_unix() {
            return self.handle_expiry().await;
        }
        let due = self.next_wake().is_some_and(|at| self.clock.now() >= at);
        if !self.settings.auto_refresh || !due {
            return;
        }
        match self.refresh().await {
            Ok(_) => {
                // A server that grants less than the margin must not be asked again at once.
                if self.next_wake().is_some_and(|at| self.clock.now() >= at) {
                    self.retry_state().not_before = Some(self.server_now() + MAX_RETRY_PAUSE);
                }
            }
            Err(error) => self.note_refresh_failure(error),
        }
    }

    /// Backs off after a failed automatic refresh: 10 s, 20 s, 40 s ... up to 5 minutes, and
    /// never past expiry (`next_wake` caps it).
    fn note_refresh_failure(&self, error: Error) {
        let now = self.server_now();
        let pause = {
            let mut retry = self.retry_state();
            retry.failures += 1;
            let pause = (FIRST_RETRY_PAUSE << (retry.failures - 1).min(8)).min(MAX_RETRY_PAUSE);
            retry.not_before = Some(now + pause);
            pause
        };
        // Logged with no lock held: the app's logger may call back into the client.
        log_at!(
            LogLevel::Warn,
            target::SESSION,
            "automatic refresh failed ({}); retrying in {pause} s",
            ByoaError::from(error).code_str()
        );
    }

    fn retry_state(&self) -> std::sync::MutexGuard<'_, RetryState> {
        self.retry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reset_retries(&self) {
        *self.retry_state() = RetryState::default();
    }

    // --- Sign-out ---

    /// Clears the session locally first (so nothing in flight can bring it back), then, at the
    /// same time, deletes the stored record and revokes on the server within a bounded time,
    /// ignoring failures. Before the store was read (`Restoring`, `StorageUnavailable`), the
    /// stored session is read first so that it can be revoked too.
    pub async fn sign_out(&self) {
        let unread = matches!(
            self.lifecycle.state(),
            AuthState::Restoring | AuthState::StorageUnavailable { .. }
        );
        let ended = self.lifecycle.sign_out(SignOutReason::UserIntent);
        self.elevated.clear();
        self.reset_retries();
        let revoke = async {
            if let Some(session) = &ended {
                self.binding
                    .delete_session_key(session.session_key.as_ref())
                    .await;
                self.revoke(
                    session.bearer(),
                    session.session_key.as_ref(),
                    SignOutReason::UserIntent,
                )
                .await;
            }
        };
        let delete = async {
            let _gate = self.storage_gate.lock().await;
            let stored = if unread {
                self.read_stored_bearer().await
            } else {
                None
            };
            self.persist_locked().await;
            stored
        };
        let ((), stored) = tokio::join!(revoke, delete);
        if let Some((bearer, session_key)) = stored {
            self.binding.delete_session_key(session_key.as_ref()).await;
            self.revoke(&bearer, session_key.as_ref(), SignOutReason::UserIntent)
                .await;
        }
    }

    /// The bearer and session key of the stored record, if it can be read. Called with the
    /// storage gate held.
    async fn read_stored_bearer(&self) -> Option<(String, Option<SessionKey>)> {
        match self.read_record().await {
            Found::Record(record) => Some((record.token, record.session_key)),
            _ => None,
        }
    }

    async fn revoke(&self, bearer: &str, session_key: Option<&SessionKey>, reason: SignOutReason) {
        let result = self
            .transport
            .with_headers(session_key_header(session_key))
            .revoke(bearer, reason.logout_header(), REVOKE_TIMEOUT)
            .await;
        if let Err(error) = result {
            log_at!(
                LogLevel::Info,
                target::SESSION,
                "revoking the ended session failed (ignored): {}",
                ByoaError::from(error).code_str()
            );
        }
    }

    /// Revokes a session nobody uses any more, and deletes its session key, without making the
    /// caller wait.
    fn revoke_in_background(&self, session: Session, reason: SignOutReason) {
        self.binding
            .delete_session_key_in_background(session.session_key.as_ref());
        let transport = self
            .transport
            .with_headers(session_key_header(session.session_key.as_ref()));
        let bearer = session.bearer().to_owned();
        crate::support::runtime::spawn(async move {
            let _ = transport
                .revoke(&bearer, reason.logout_header(), REVOKE_TIMEOUT)
                .await;
        });
    }

    // --- Restore and storage ---

    /// Reads the stored session (unless it was read already) and settles the state. Safe to
    /// call any time; the state it ends in is returned.
    pub async fn restore(&self) -> AuthState {
        self.restores
            .run((), || async {
                self.restore_once().await;
                self.persist().await;
                self.handle_expiry().await;
                self.lifecycle.poke();
                self.lifecycle.state()
            })
            .await
    }

    async fn restore_if_unsettled(&self) {
        if matches!(
            self.lifecycle.state(),
            AuthState::Restoring | AuthState::StorageUnavailable { .. }
        ) {
            self.restore().await;
        }
    }

    async fn restore_once(&self) {
        let read = {
            let _gate = self.storage_gate.lock().await;
            match self.lifecycle.begin_restore() {
                RestorePlan::Read { version } => Some((version, self.read_record().await)),
                RestorePlan::Settled => None,
            }
        };
        // Applied after the gate is released: listeners hear the result, and may call back into
        // the client, without the store locked. The version check rejects a stale read.
        let Some((version, found)) = read else {
            return;
        };
        let clock = self.clock.clone();
        let follow_up = self
            .lifecycle
            .finish_restore(version, found, move |offset| clock.now_unix() + offset);
        if let AfterRestore::Expired(session) = follow_up {
            self.settle_expired_restore(session).await;
        }
    }

    /// A stored session that looks expired: confirm with the server's clock, then renew it
    /// through the provider, or give it up as expired.
    async fn settle_expired_restore(&self, session: Session) {
        self.recalibrate().await;
        if self.server_now() < session.expires_at_unix() {
            self.lifecycle.keep_restored(session);
            return;
        }
        let key = session.session_key.clone();
        if self.reexchange(&Renewal::Restore(session)).await.is_none() {
            self.lifecycle.give_up_expired_restore();
        }
        // Renewed or given up, the expired session is over: its key goes with it.
        self.binding.delete_session_key(key.as_ref()).await;
    }

    /// Reads and decodes the record. Called with the storage gate held.
    async fn read_record(&self) -> Found {
        let read = self.call_storage(|storage, key| storage.get(key)).await;
        let text = match read {
            Err(error) => {
                log_at!(
                    LogLevel::Warn,
                    target::STORAGE,
                    "the session store is unreadable: {}",
                    error.scrubbed()
                );
                return Found::Unreadable(error);
            }
            Ok(None) => return Found::Nothing,
            Ok(Some(text)) => text,
        };
        if self
            .fresh_install_pending
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return match self.call_storage(|storage, key| storage.delete(key)).await {
                Ok(()) => {
                    // A key a previous install left (on platforms where keys survive it).
                    let key = StoredSession::decode(&text)
                        .ok()
                        .and_then(|decoded| decoded.record.session_key);
                    self.binding.delete_session_key(key.as_ref()).await;
                    Found::DiscardedForFreshInstall
                }
                Err(error) => {
                    self.fresh_install_pending
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                    Found::Unreadable(error)
                }
            };
        }
        self.decode_record(&text).await
    }

    /// What a stored text holds. A record of an earlier version is upgraded and written back
    /// (before anything else can write: the storage gate is held). A record of a newer version
    /// is kept untouched and reads as an unusable store, not as "signed out": this library
    /// cannot read it, but the app version that wrote it can.
    async fn decode_record(&self, text: &str) -> Found {
        match StoredSession::decode(text) {
            Ok(decoded) => {
                if let Some(version) = decoded.upgraded_from {
                    self.write_upgraded(&decoded.record, version).await;
                }
                Found::Record(decoded.record)
            }
            Err(problem @ RecordProblem::Newer(_)) => {
                log_at!(LogLevel::Warn, target::STORAGE, "{problem}");
                Found::Unreadable(StorageError::Failed {
                    detail: problem.to_string(),
                })
            }
            Err(problem) => {
                log_at!(
                    LogLevel::Warn,
                    target::STORAGE,
                    "the stored session is unusable and is ignored: {problem}"
                );
                Found::Corrupt
            }
        }
    }

    /// Replaces a record of an earlier version by its upgrade. A failure only costs the upgrade
    /// of this launch: the old record still reads, and the next change of the session rewrites
    /// it anyway.
    async fn write_upgraded(&self, record: &StoredSession, from_version: u32) {
        let value = record.encode();
        match self.call_storage(move |s, key| s.set(key, value)).await {
            Ok(()) => log_at!(
                LogLevel::Info,
                target::STORAGE,
                "upgraded the stored session from record version {from_version} to {}",
                record.version
            ),
            Err(error) => log_at!(
                LogLevel::Warn,
                target::STORAGE,
                "upgrading the stored session failed; it is read as it is: {}",
                error.scrubbed()
            ),
        }
    }

    /// Makes the store match the state, if it does not already. A failure is logged and the
    /// write stays pending: the scheduler retries it, and so do the next operations.
    pub async fn persist(&self) {
        let _gate = self.storage_gate.lock().await;
        self.persist_locked().await;
    }

    /// `persist` with the storage gate already held.
    async fn persist_locked(&self) {
        let Some(write) = self.lifecycle.pending_write() else {
            return;
        };
        let result = match write.value {
            Some(value) => self.call_storage(move |s, key| s.set(key, value)).await,
            None => self.call_storage(|s, key| s.delete(key)).await,
        };
        match result {
            Ok(()) => {
                self.lifecycle.write_done(write.version);
                self.retry_state().write_failures = 0;
            }
            Err(error) => {
                self.retry_state().write_failures += 1;
                log_at!(
                    LogLevel::Warn,
                    target::STORAGE,
                    "saving the session failed; will retry: {}",
                    error.scrubbed()
                );
            }
        }
    }

    /// Runs a (possibly blocking) storage call off the async worker, or inline for the built-in
    /// memory store.
    async fn call_storage<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn SessionStorage, String) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let storage = self.storage.clone();
        let key = self.storage_key.clone();
        if self.storage_is_memory {
            // The built-in memory store never blocks: a hop to a blocking thread and back would
            // cost more than the write (measured: ~130 µs median of a sign-in's ~200 µs).
            return call(storage.as_ref(), key);
        }
        tokio::task::spawn_blocking(move || call(storage.as_ref(), key))
            .await
            .unwrap_or_else(|_| {
                Err(StorageError::Failed {
                    detail: "the storage implementation panicked".into(),
                })
            })
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
