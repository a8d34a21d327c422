//! The session state machine: one mutex owns every piece of shared session state, and every
//! transition is a short synchronous step under it. Nothing here awaits, so no lock is ever held
//! across an await; the async work (requests, storage) lives in `crate::client` and reports back
//! here. `src/session/README.md` draws the states and transitions.
//!
//! Every request to move (the app's call, or async work reporting back with its ticket) is a
//! [`Proposal`]; [`Inner::decide`] is the one place that rules on it (pure: which guard discards
//! it, or which phase it leads to), and [`Inner::apply`] carries the ruling out. The guards
//! table of the README maps onto the arms of `decide`.
//!
//! Four counters and two flags make races deterministic:
//! - sign-in tickets: a sign-in's result is kept only if no sign-in that started later was kept
//!   first (the last one started wins, whatever order responses arrive in);
//! - the epoch, bumped by every sign-out the app asks for: work that started before it is
//!   discarded when it finishes, so a sign-out can never be undone by a late response;
//! - the version, bumped by every change: storage writes and restores apply only to the state
//!   they were computed from;
//! - the generation, bumped by every change but a refresh: names one signed-in session, so that
//!   its elevated tokens die with it;
//! - `settled`: the store was read, or something newer happened (a restore must not overwrite
//!   it); `dirty`: the store does not yet reflect the state.
//!
//! Events are queued under the lock in transition order and delivered after it is released, by
//! one thread at a time, so every listener sees every change in order.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Error;
use crate::ports::storage::StorageError;
use crate::session::events::{AuthListener, AuthState, ListenerOwner, SignOutReason, deliver};
use crate::session::record::StoredSession;
use crate::session::{Session, SignedInSession};
use crate::support::logging::{LogLevel, log_at, target};

/// Where the session stands, with what the public [`AuthState`] leaves out (the tokens).
// One per client and replaced a few times an hour: size does not matter, boxing would clutter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Phase {
    Restoring,
    StorageUnavailable(StorageError),
    SignedOut(Option<SignOutReason>),
    SignedIn(Session),
}

impl Phase {
    fn public(&self) -> AuthState {
        match self {
            Self::Restoring => AuthState::Restoring,
            Self::StorageUnavailable(error) => AuthState::StorageUnavailable {
                error: error.scrubbed(),
            },
            Self::SignedOut(reason) => AuthState::SignedOut { reason: *reason },
            Self::SignedIn(session) => AuthState::SignedIn {
                session: session.profile.clone(),
            },
        }
    }
}

/// A sign-in's place in line, from [`Lifecycle::begin_sign_in`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignInTicket {
    number: u64,
    epoch: u64,
}

impl SignInTicket {
    /// The place in line: later sign-ins have larger numbers.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// How many sign-outs had started when the sign-in did.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

/// What a re-exchange through the app's JWT provider renews: its result is kept only while
/// that is still the current state. Built once per re-exchange.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(crate) enum Renewal {
    /// This session, which could not be refreshed or has expired.
    Session(Session),
    /// The start-up restore, which found this stored session expired.
    Restore(Session),
}

/// The session a refresh started from, from [`Lifecycle::begin_refresh`].
#[derive(Clone)]
pub(crate) struct RefreshTicket {
    pub session: Session,
    epoch: u64,
}

/// What a restore found in storage. Built once per restore.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Found {
    Nothing,
    Unreadable(StorageError),
    Corrupt,
    Record(StoredSession),
    /// A record was there, and deleted because the app reported a fresh install.
    DiscardedForFreshInstall,
}

/// What a restore should do, from [`Lifecycle::begin_restore`].
pub(crate) enum RestorePlan {
    /// The store was read before, or the state changed since: nothing to read.
    Settled,
    /// Read the store; apply the result only if the state is still at `version`.
    Read { version: u64 },
}

/// What the caller of [`Lifecycle::finish_restore`] must follow up on. Built once per restore.
#[allow(clippy::large_enum_variant)]
pub(crate) enum AfterRestore {
    Done,
    /// The stored session looks expired on the device's idea of the server's clock: confirm,
    /// try the JWT provider, then settle with `keep_restored` or `give_up_expired_restore`.
    Expired(Session),
}

/// A storage write to make, from [`Lifecycle::pending_write`]: the record, or `None` to delete.
pub(crate) struct PendingWrite {
    pub version: u64,
    pub value: Option<String>,
}

pub(crate) struct Lifecycle {
    inner: Mutex<Inner>,
    /// Set while one thread delivers queued events.
    dispatching: AtomicBool,
    /// The version, published for the refresh scheduler.
    changes: tokio::sync::watch::Sender<u64>,
}

struct Inner {
    phase: Phase,
    /// Server time minus device time, in seconds, learned from `Date` headers.
    server_offset: i64,
    /// `server_offset` was learned from a response in this process.
    time_known: bool,
    started: u64,
    kept: u64,
    epoch: u64,
    version: u64,
    /// Changes with every transition except a refresh: names one signed-in session from its
    /// sign-in (or restore) to its end, across refreshes. Elevated tokens are kept per value.
    generation: u64,
    /// The store does not yet reflect `phase`.
    dirty: bool,
    /// The store has been read, or something newer than its content happened.
    settled: bool,
    listeners: Vec<(u64, Arc<dyn AuthListener>)>,
    next_listener: u64,
    /// Events to deliver: the state, and the one listener it is for (`None`: all).
    queue: VecDeque<(AuthState, Option<u64>)>,
}

/// A queued event on its way out.
struct Event {
    state: AuthState,
    listeners: Vec<Arc<dyn AuthListener>>,
    /// A change of state (not a new listener's first look at the current one).
    is_change: bool,
}

impl Inner {
    /// Moves to `phase`, queueing its event when the public state changes.
    fn enter(&mut self, phase: Phase) {
        self.generation += 1;
        self.enter_same_session(phase);
    }

    /// [`Inner::enter`] for a refresh: the same session with new tokens.
    fn enter_same_session(&mut self, phase: Phase) {
        let before = self.phase.public();
        self.phase = phase;
        self.version += 1;
        let after = self.phase.public();
        if after != before {
            self.queue.push_back((after, None));
        }
    }

    fn signed_in(&self) -> Option<&Session> {
        match &self.phase {
            Phase::SignedIn(session) => Some(session),
            _ => None,
        }
    }
}

/// A request to move the state machine: the app's own call, or async work reporting back with
/// the ticket it started from. [`Inner::decide`] is the one place that judges each of them.
enum Proposal<'a> {
    /// A sign-in (or a re-exchange through the JWT provider, `renewing`) ended with `session`.
    SignIn {
        ticket: SignInTicket,
        renewing: Option<&'a Renewal>,
        session: Session,
    },
    /// A refresh of `ticket.session` ended with `refreshed`.
    Refresh {
        ticket: &'a RefreshTicket,
        refreshed: Session,
    },
    /// The session ends with `reason`: whatever the state (`only_if` is `None`: the app's
    /// sign-out), or only while `only_if` is still the current session (an expiry, a refusal).
    End {
        reason: SignOutReason,
        only_if: Option<&'a Session>,
    },
    /// A restore that read the store at `version` found `found`; `server_now_at_offset` tells
    /// the server's time for a clock offset.
    Restore {
        version: u64,
        found: Found,
        server_now_at_offset: &'a dyn Fn(i64) -> i64,
    },
    /// A restore that found an expired record settles: with the session after all (`Some`: it
    /// was not expired on the server's clock), or signed out (`None`).
    SettleExpiredRestore(Option<Session>),
}

/// Why a proposal was discarded: it was computed from a state that is gone.
enum Stale {
    /// A sign-out the app asked for started after the work did.
    Cancelled,
    /// A later sign-in was kept first, or what a re-exchange renews is no longer current.
    Superseded,
    /// The session, version or phase the work started from is no longer the current one.
    Outdated,
}

/// What [`Inner::decide`] ruled.
#[allow(clippy::large_enum_variant)]
enum Decision {
    Discard(Stale),
    Enter(Move),
    /// A restore found a record that looks expired: stay `Restoring`, settled (no second read),
    /// while the client confirms on the server's clock and asks the JWT provider.
    ConfirmExpiry {
        offset: i64,
        session: Session,
    },
}

/// A transition [`Inner::decide`] allowed, and what comes with it.
struct Move {
    to: Phase,
    /// Another user's session replaces the current one: `SignedOut(Replaced)` comes first, so
    /// apps clear their per-user state.
    replaces_user: bool,
    /// A refresh: the same session with new tokens (the generation stays).
    same_session: bool,
    /// The store no longer matches the state: a write (or a delete) is due.
    store_due: bool,
    /// The store needs no reading (again): it was read, or something newer happened.
    settles: bool,
    /// The app's sign-out: work started before it is cancelled when it reports back.
    cancels_work: bool,
    /// The sign-in ticket now kept last.
    keeps_ticket: Option<u64>,
    /// The server clock offset a restored record carries, adopted (a restore only).
    adopts_offset: Option<i64>,
}

impl Move {
    fn to(to: Phase) -> Self {
        Self {
            to,
            replaces_user: false,
            same_session: false,
            store_due: false,
            settles: false,
            cancels_work: false,
            keeps_ticket: None,
            adopts_offset: None,
        }
    }
}

/// What applying a decision gave back.
enum Outcome {
    /// The state moved; `previous` is the session that was current before (for revocation).
    Moved { previous: Option<Session> },
    /// See [`Decision::ConfirmExpiry`].
    ConfirmExpiry(Session),
}

impl Outcome {
    fn previous(self) -> Option<Session> {
        match self {
            Self::Moved { previous } => previous,
            Self::ConfirmExpiry(_) => None,
        }
    }
}

impl Inner {
    /// The one place that decides every transition: whether a proposal still applies to the
    /// current state (the guards of `README.md`), and where it leads. Pure: it reads, never
    /// writes; [`Inner::apply`] carries the decision out.
    fn decide(&self, proposal: Proposal<'_>) -> Decision {
        match proposal {
            Proposal::SignIn {
                ticket,
                renewing,
                session,
            } => {
                if ticket.epoch != self.epoch {
                    return Decision::Discard(Stale::Cancelled);
                }
                if ticket.number < self.kept || renewing.is_some_and(|r| !self.is_current(r)) {
                    return Decision::Discard(Stale::Superseded);
                }
                let replaces_user = self
                    .signed_in()
                    .is_some_and(|previous| previous.user_id() != session.user_id());
                Decision::Enter(Move {
                    replaces_user,
                    store_due: true,
                    settles: true,
                    keeps_ticket: Some(ticket.number),
                    ..Move::to(Phase::SignedIn(session))
                })
            }
            Proposal::Refresh { ticket, refreshed } => {
                if ticket.epoch != self.epoch || !self.is_signed_in_with(&ticket.session) {
                    return Decision::Discard(Stale::Outdated);
                }
                Decision::Enter(Move {
                    same_session: true,
                    store_due: true,
                    ..Move::to(Phase::SignedIn(refreshed))
                })
            }
            Proposal::End { reason, only_if } => {
                if only_if.is_some_and(|session| !self.is_signed_in_with(session)) {
                    return Decision::Discard(Stale::Outdated);
                }
                Decision::Enter(Move {
                    store_due: true,
                    settles: true,
                    // Only the app's own sign-out cancels sign-ins in flight: a session that
                    // merely expired or was refused must not undo the sign-in the user just
                    // started to replace it.
                    cancels_work: reason == SignOutReason::UserIntent,
                    ..Move::to(Phase::SignedOut(Some(reason)))
                })
            }
            Proposal::Restore {
                version,
                found,
                server_now_at_offset,
            } => {
                if self.version != version || self.settled {
                    return Decision::Discard(Stale::Outdated);
                }
                self.decide_restored(found, server_now_at_offset)
            }
            Proposal::SettleExpiredRestore(session) => {
                if !matches!(self.phase, Phase::Restoring) {
                    return Decision::Discard(Stale::Outdated);
                }
                Decision::Enter(match session {
                    // Read fine and not expired after all: the store already holds it.
                    Some(session) => Move::to(Phase::SignedIn(session)),
                    // Read fine and expired: deleting the record loses nothing.
                    None => Move {
                        store_due: true,
                        ..Move::to(Phase::SignedOut(Some(SignOutReason::Expired)))
                    },
                })
            }
        }
    }

    /// Where a current restore leads, from what it found.
    fn decide_restored(&self, found: Found, server_now_at_offset: &dyn Fn(i64) -> i64) -> Decision {
        let settled = |phase| Move {
            settles: true,
            ..Move::to(phase)
        };
        Decision::Enter(match found {
            // Not settled: the next restore reads again. Nothing is deleted.
            Found::Unreadable(error) => Move::to(Phase::StorageUnavailable(error)),
            Found::Nothing => settled(Phase::SignedOut(None)),
            Found::Corrupt => settled(Phase::SignedOut(Some(SignOutReason::StorageCorrupt))),
            Found::DiscardedForFreshInstall => {
                settled(Phase::SignedOut(Some(SignOutReason::FreshInstall)))
            }
            Found::Record(record) => {
                // Used for expiry, but not "known": the device clock may have been changed
                // since the record was written; the next response calibrates again.
                let offset = if self.time_known {
                    self.server_offset
                } else {
                    record.server_clock_offset_seconds
                };
                let session = Session::from_stored(record);
                if server_now_at_offset(offset) >= session.expires_at_unix() {
                    return Decision::ConfirmExpiry { offset, session };
                }
                Move {
                    adopts_offset: Some(offset),
                    ..settled(Phase::SignedIn(session))
                }
            }
        })
    }

    /// Carries out a decision of [`Inner::decide`].
    fn apply(&mut self, decision: Decision) -> Result<Outcome, Stale> {
        let step = match decision {
            Decision::Discard(stale) => return Err(stale),
            Decision::ConfirmExpiry { offset, session } => {
                self.server_offset = offset;
                self.settled = true;
                return Ok(Outcome::ConfirmExpiry(session));
            }
            Decision::Enter(step) => step,
        };
        let previous = self.signed_in().cloned();
        if let Some(offset) = step.adopts_offset {
            self.server_offset = offset;
        }
        if step.cancels_work {
            self.epoch += 1;
        }
        if let Some(number) = step.keeps_ticket {
            self.kept = number;
        }
        if step.replaces_user {
            self.enter(Phase::SignedOut(Some(SignOutReason::Replaced)));
        }
        if step.same_session {
            self.enter_same_session(step.to);
        } else {
            self.enter(step.to);
        }
        self.dirty |= step.store_due;
        self.settled |= step.settles;
        Ok(Outcome::Moved { previous })
    }

    fn is_signed_in_with(&self, session: &Session) -> bool {
        self.signed_in()
            .is_some_and(|current| current.same_token(session))
    }

    fn is_current(&self, renewal: &Renewal) -> bool {
        match renewal {
            Renewal::Session(renewed) => self.is_signed_in_with(renewed),
            Renewal::Restore(_) => matches!(self.phase, Phase::Restoring),
        }
    }
}

impl Lifecycle {
    /// True while what `renewal` renews is still the current state.
    pub fn is_current(&self, renewal: &Renewal) -> bool {
        self.lock().is_current(renewal)
    }

    /// Starts `Restoring`, or, when `nothing_stored` (no store to read), settled as signed out.
    pub fn new(nothing_stored: bool) -> Arc<Self> {
        let phase = if nothing_stored {
            Phase::SignedOut(None)
        } else {
            Phase::Restoring
        };
        Arc::new(Self {
            inner: Mutex::new(Inner {
                phase,
                server_offset: 0,
                time_known: false,
                started: 0,
                kept: 0,
                epoch: 0,
                version: 0,
                generation: 0,
                dirty: false,
                settled: nothing_stored,
                listeners: Vec::new(),
                next_listener: 1,
                queue: VecDeque::new(),
            }),
            dispatching: AtomicBool::new(false),
            changes: tokio::sync::watch::Sender::new(0),
        })
    }

    // --- Reading ---

    pub fn state(&self) -> AuthState {
        self.lock().phase.public()
    }

    pub fn session(&self) -> Option<Session> {
        self.lock().signed_in().cloned()
    }

    /// The current session's generation (see `Inner::generation`), `None` when not signed in.
    pub fn generation(&self) -> Option<u64> {
        let inner = self.lock();
        inner.signed_in().map(|_| inner.generation)
    }

    pub fn server_offset(&self) -> i64 {
        self.lock().server_offset
    }

    pub fn set_server_offset(&self, offset: i64) {
        let mut inner = self.lock();
        inner.server_offset = offset;
        inner.time_known = true;
    }

    /// True once a response in this process told the server's time.
    pub fn time_known(&self) -> bool {
        self.lock().time_known
    }

    /// A receiver that sees every change of version (for the refresh scheduler).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Wakes the scheduler without a state change (it re-plans from the current time).
    pub fn poke(&self) {
        self.changes.send_modify(|_| {});
    }

    // --- Sign-in ---

    pub fn begin_sign_in(&self) -> SignInTicket {
        let mut inner = self.lock();
        inner.started += 1;
        SignInTicket {
            number: inner.started,
            epoch: inner.epoch,
        }
    }

    /// Keeps a sign-in's session unless a sign-out started after it (`Cancelled`), a later
    /// sign-in was kept first (`Superseded`), or, for a renewal, what it renews is no longer
    /// current (`Superseded`). Returns the session it replaced, if any.
    pub fn keep_sign_in(
        &self,
        ticket: SignInTicket,
        renewing: Option<&Renewal>,
        session: Session,
    ) -> Result<Option<Session>, Error> {
        let proposal = Proposal::SignIn {
            ticket,
            renewing,
            session,
        };
        match self.step(proposal) {
            Ok(outcome) => Ok(outcome.previous()),
            Err(Stale::Cancelled) => Err(Error::Cancelled),
            Err(Stale::Superseded | Stale::Outdated) => Err(Error::Superseded),
        }
    }

    // --- Refresh ---

    pub fn begin_refresh(&self) -> Result<RefreshTicket, Error> {
        let inner = self.lock();
        match &inner.phase {
            Phase::SignedIn(session) => Ok(RefreshTicket {
                session: session.clone(),
                epoch: inner.epoch,
            }),
            Phase::StorageUnavailable(error) => Err(Error::Storage(error.clone())),
            Phase::Restoring | Phase::SignedOut(_) => Err(Error::NotSignedIn),
        }
    }

    /// Replaces the refreshed session, if it is still the current one. Returns the current
    /// session either way (`NotSignedIn` if there is none).
    pub fn keep_refresh(
        &self,
        ticket: &RefreshTicket,
        refreshed: Session,
    ) -> Result<SignedInSession, Error> {
        self.transition(|inner| {
            // A refresh that is outdated is dropped silently: the caller gets what is current.
            let _ = inner.apply(inner.decide(Proposal::Refresh { ticket, refreshed }));
            inner
                .signed_in()
                .map(|s| s.profile.clone())
                .ok_or(Error::NotSignedIn)
        })
    }

    // --- Ending ---

    /// Signs out (the app asked): whatever the state, it becomes `SignedOut { reason }` and the
    /// stored record is to be deleted. Returns the session that ended, for revocation.
    pub fn sign_out(&self, reason: SignOutReason) -> Option<Session> {
        let proposal = Proposal::End {
            reason,
            only_if: None,
        };
        self.step(proposal).ok().and_then(Outcome::previous)
    }

    /// Ends `session` with `reason`, but only if it is still the current session: a refresh
    /// failure must not end a newer session that replaced it meanwhile.
    pub fn end_if_current(&self, session: &Session, reason: SignOutReason) -> Option<Session> {
        let proposal = Proposal::End {
            reason,
            only_if: Some(session),
        };
        self.step(proposal).ok().and_then(Outcome::previous)
    }

    /// The current session if it has expired at `server_now` (unix seconds).
    pub fn expired_session(&self, server_now: i64) -> Option<Session> {
        self.lock()
            .signed_in()
            .filter(|s| server_now >= s.expires_at_unix())
            .cloned()
    }

    // --- Restore ---

    pub fn begin_restore(&self) -> RestorePlan {
        let inner = self.lock();
        let unread = matches!(inner.phase, Phase::Restoring | Phase::StorageUnavailable(_));
        if inner.settled || !unread {
            RestorePlan::Settled
        } else {
            RestorePlan::Read {
                version: inner.version,
            }
        }
    }

    /// Applies what a restore found, unless the state changed while it read.
    pub fn finish_restore(
        &self,
        version: u64,
        found: Found,
        server_now_at_offset: impl Fn(i64) -> i64,
    ) -> AfterRestore {
        let proposal = Proposal::Restore {
            version,
            found,
            server_now_at_offset: &server_now_at_offset,
        };
        match self.step(proposal) {
            Ok(Outcome::ConfirmExpiry(session)) => AfterRestore::Expired(session),
            Ok(Outcome::Moved { .. }) | Err(_) => AfterRestore::Done,
        }
    }

    /// Settles a restore whose stored session turned out not to be expired after all.
    pub fn keep_restored(&self, session: Session) {
        let _ = self.step(Proposal::SettleExpiredRestore(Some(session)));
    }

    /// Settles a restore whose expired session could not be re-exchanged.
    pub fn give_up_expired_restore(&self) {
        let _ = self.step(Proposal::SettleExpiredRestore(None));
    }

    /// True while the store does not reflect the state (a write failed and is pending).
    pub fn is_dirty(&self) -> bool {
        self.lock().dirty
    }

    // --- Storage ---

    /// The write that would make the store match the state, if one is due.
    pub fn pending_write(&self) -> Option<PendingWrite> {
        let inner = self.lock();
        if !inner.dirty {
            return None;
        }
        let value = inner
            .signed_in()
            .map(|s| s.to_stored(inner.server_offset).encode());
        Some(PendingWrite {
            version: inner.version,
            value,
        })
    }

    /// Records that the store matches the state at `version`.
    pub fn write_done(&self, version: u64) {
        let mut inner = self.lock();
        if inner.version == version {
            inner.dirty = false;
        }
    }

    // --- Listeners ---

    /// Registers `listener` and queues the current state for it alone, so it starts from a
    /// known state without a race between reading the state and registering.
    pub fn add_listener(&self, listener: Arc<dyn AuthListener>) -> u64 {
        let id = {
            let mut inner = self.lock();
            let id = inner.next_listener;
            inner.next_listener += 1;
            inner.listeners.push((id, listener));
            let now = inner.phase.public();
            inner.queue.push_back((now, Some(id)));
            id
        };
        self.dispatch();
        id
    }

    // --- Internals ---

    /// Decides and applies one proposal under the lock ([`Inner::decide`]), then publishes.
    fn step(&self, proposal: Proposal<'_>) -> Result<Outcome, Stale> {
        self.transition(|inner| inner.apply(inner.decide(proposal)))
    }

    /// Runs `change` under the lock, then publishes and delivers whatever it queued.
    fn transition<T>(&self, change: impl FnOnce(&mut Inner) -> T) -> T {
        let (result, version) = {
            let mut inner = self.lock();
            let result = change(&mut inner);
            (result, inner.version)
        };
        self.changes.send_if_modified(|seen| {
            let modified = *seen != version;
            *seen = version;
            modified
        });
        self.dispatch();
        result
    }

    /// Delivers queued events, one thread at a time, without holding the lock during calls.
    fn dispatch(&self) {
        loop {
            if self
                .dispatching
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // Another thread is delivering; it re-checks the queue before it stops.
                return;
            }
            while let Some(event) = self.next_event() {
                // Logged here, outside the lock: a logger may call back into the client.
                if event.is_change {
                    log_at!(
                        LogLevel::Info,
                        target::STATE,
                        "state: {}",
                        event.state.summary()
                    );
                }
                for listener in &event.listeners {
                    deliver(listener, event.state.clone());
                }
            }
            self.dispatching.store(false, Ordering::Release);
            if self.lock().queue.is_empty() {
                return;
            }
        }
    }

    fn next_event(&self) -> Option<Event> {
        let mut inner = self.lock();
        let (state, target) = inner.queue.pop_front()?;
        let listeners = inner
            .listeners
            .iter()
            .filter(|(id, _)| target.is_none_or(|t| t == *id))
            .map(|(_, l)| l.clone())
            .collect();
        Some(Event {
            state,
            listeners,
            is_change: target.is_none(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Transitions replace whole fields; recover from a poisoned lock rather than wedge.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ListenerOwner for Lifecycle {
    fn remove_listener(&self, id: u64) {
        self.lock().listeners.retain(|(l, _)| *l != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynamic_byoa_contract::VerifyResponse;
    use serde_json::json;

    fn session(user: &str, token: &str) -> Session {
        let wire: VerifyResponse = serde_json::from_value(json!({
            "user": {"id": user, "projectEnvironmentId": "e", "verifiedCredentials": []},
            "expiresAt": 2_000, "minifiedJwt": token
        }))
        .unwrap();
        Session::from_response(&wire, 200, 1_000).unwrap()
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<AuthState>>);

    impl AuthListener for Recorder {
        fn on_state_changed(&self, state: AuthState) {
            self.0.lock().unwrap().push(state);
        }
    }

    fn signed_in_user(state: &AuthState) -> Option<String> {
        match state {
            AuthState::SignedIn { session } => Some(session.user.user_id.clone()),
            _ => None,
        }
    }

    #[test]
    fn the_last_started_sign_in_wins_whatever_order_results_arrive_in() {
        let life = Lifecycle::new(false);
        let first = life.begin_sign_in();
        let second = life.begin_sign_in();
        life.keep_sign_in(second, None, session("u2", "t2"))
            .unwrap();
        assert!(matches!(
            life.keep_sign_in(first, None, session("u1", "t1")),
            Err(Error::Superseded)
        ));
        assert_eq!(life.session().unwrap().user_id(), "u2");
    }

    #[test]
    fn a_sign_in_that_finishes_after_a_sign_out_started_is_discarded() {
        let life = Lifecycle::new(false);
        let ticket = life.begin_sign_in();
        life.sign_out(SignOutReason::UserIntent);
        assert!(matches!(
            life.keep_sign_in(ticket, None, session("u", "t")),
            Err(Error::Cancelled)
        ));
        assert_eq!(
            life.state(),
            AuthState::SignedOut {
                reason: Some(SignOutReason::UserIntent)
            }
        );
    }

    #[test]
    fn a_different_user_replaces_the_session_with_a_sign_out_in_between() {
        let life = Lifecycle::new(false);
        let recorder = Arc::new(Recorder::default());
        life.add_listener(recorder.clone());
        let t = life.begin_sign_in();
        life.keep_sign_in(t, None, session("alice", "t1")).unwrap();
        let t = life.begin_sign_in();
        let replaced = life.keep_sign_in(t, None, session("bob", "t2")).unwrap();
        assert_eq!(replaced.unwrap().user_id(), "alice");
        let seen = recorder.0.lock().unwrap().clone();
        assert_eq!(
            seen[0],
            AuthState::Restoring,
            "the listener starts from the current state"
        );
        assert_eq!(signed_in_user(&seen[1]).as_deref(), Some("alice"));
        assert_eq!(
            seen[2],
            AuthState::SignedOut {
                reason: Some(SignOutReason::Replaced)
            }
        );
        assert_eq!(signed_in_user(&seen[3]).as_deref(), Some("bob"));
    }

    #[test]
    fn a_refresh_result_for_a_session_that_was_replaced_is_dropped() {
        let life = Lifecycle::new(false);
        let t = life.begin_sign_in();
        life.keep_sign_in(t, None, session("u", "old")).unwrap();
        let refresh = life.begin_refresh().unwrap();
        let t = life.begin_sign_in();
        life.keep_sign_in(t, None, session("u", "newer")).unwrap();
        life.keep_refresh(&refresh, session("u", "refreshed-old"))
            .unwrap();
        assert_eq!(life.session().unwrap().bearer(), "newer");
        assert!(
            life.end_if_current(&refresh.session, SignOutReason::RefreshUnauthorized)
                .is_none()
        );
        assert!(life.state().is_signed_in());
    }

    #[test]
    fn an_unreadable_store_is_not_signed_out_and_is_read_again() {
        let life = Lifecycle::new(false);
        let RestorePlan::Read { version } = life.begin_restore() else {
            panic!()
        };
        let locked = StorageError::Unavailable {
            detail: "locked".into(),
        };
        life.finish_restore(version, Found::Unreadable(locked), |_| 0);
        assert!(matches!(life.state(), AuthState::StorageUnavailable { .. }));
        assert!(
            life.pending_write().is_none(),
            "nothing is written or deleted"
        );
        assert!(matches!(life.begin_restore(), RestorePlan::Read { .. }));
    }

    #[test]
    fn a_restore_that_raced_a_sign_in_does_not_overwrite_it() {
        let life = Lifecycle::new(false);
        let RestorePlan::Read { version } = life.begin_restore() else {
            panic!()
        };
        let t = life.begin_sign_in();
        life.keep_sign_in(t, None, session("new", "t")).unwrap();
        life.finish_restore(version, Found::Nothing, |_| 0);
        assert_eq!(life.session().unwrap().user_id(), "new");
    }

    #[test]
    fn a_listener_that_panics_does_not_stop_the_others() {
        struct Panics;
        impl AuthListener for Panics {
            fn on_state_changed(&self, _: AuthState) {
                panic!("listener bug");
            }
        }
        let life = Lifecycle::new(false);
        life.add_listener(Arc::new(Panics));
        let recorder = Arc::new(Recorder::default());
        life.add_listener(recorder.clone());
        life.sign_out(SignOutReason::UserIntent);
        assert_eq!(recorder.0.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_removed_listener_hears_nothing_more() {
        let life = Lifecycle::new(false);
        let recorder = Arc::new(Recorder::default());
        let id = life.add_listener(recorder.clone());
        life.remove_listener(id);
        life.sign_out(SignOutReason::UserIntent);
        assert_eq!(
            recorder.0.lock().unwrap().len(),
            1,
            "only the initial state"
        );
    }

    #[test]
    fn only_the_apps_own_sign_out_cancels_work_in_flight() {
        let life = Lifecycle::new(true);
        let inner = life.lock();
        let cancels = |reason| match inner.decide(Proposal::End {
            reason,
            only_if: None,
        }) {
            Decision::Enter(step) => step.cancels_work,
            _ => panic!("a sign-out always applies"),
        };
        assert!(cancels(SignOutReason::UserIntent));
        assert!(!cancels(SignOutReason::Expired));
        assert!(!cancels(SignOutReason::RefreshUnauthorized));
    }

    #[test]
    fn an_ending_of_a_session_that_is_no_longer_current_is_outdated_and_changes_nothing() {
        let life = Lifecycle::new(true);
        let ticket = life.begin_sign_in();
        life.keep_sign_in(ticket, None, session("u1", "t2"))
            .unwrap();
        let before = life.lock().version;
        let gone = session("u1", "t1");
        let ruling = life.lock().decide(Proposal::End {
            reason: SignOutReason::Expired,
            only_if: Some(&gone),
        });
        assert!(matches!(ruling, Decision::Discard(Stale::Outdated)));
        assert!(life.end_if_current(&gone, SignOutReason::Expired).is_none());
        assert_eq!(life.lock().version, before, "no transition happened");
        assert!(life.lock().signed_in().is_some());
    }
}
