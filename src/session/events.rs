//! The session's states as apps see them, and the listeners that hear every change.

use std::sync::{Arc, Weak};

use crate::ports::storage::StorageError;
use crate::session::SignedInSession;
use crate::support::logging::{LogLevel, log_at, target};

/// Where the client's session stands. Identical on every platform.
// A value crosses the FFI by serialisation, not by its Rust size; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum AuthState {
    /// Reading the stored session (right after the client is created). Not signed out: wait.
    Restoring,
    /// No session. `reason` says how the last one ended; `None` when there was none.
    SignedOut { reason: Option<SignOutReason> },
    /// Signed in until `session.expires_at_ms` (server time); refreshed ahead of it when
    /// automatic refresh is on.
    SignedIn { session: SignedInSession },
    /// The secure store could not be read (device locked, protected data not yet available),
    /// or it holds a session record of a newer version of this library (after an app
    /// downgrade; `StorageError::Failed` says so). The stored session is kept, not deleted;
    /// call `auth().restore()` again once the store is readable (for example when the app
    /// becomes active). Not signed out.
    StorageUnavailable { error: StorageError },
}

impl AuthState {
    pub fn is_signed_in(&self) -> bool {
        matches!(self, Self::SignedIn { .. })
    }

    /// One line for logs: the state, the Dynamic user id and expiry, or the reason. No profile
    /// data (emails, names) and no token.
    pub(crate) fn summary(&self) -> String {
        match self {
            Self::Restoring => "restoring".into(),
            Self::SignedOut { reason: None } => "signed out".into(),
            Self::SignedOut {
                reason: Some(reason),
            } => format!("signed out ({reason})"),
            Self::SignedIn { session } => format!(
                "signed in (user {}, expires at {})",
                session.user.user_id,
                session.expires_at_ms / 1000
            ),
            Self::StorageUnavailable { error } => {
                format!("storage unavailable ({})", error.scrubbed())
            }
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum SignOutReason {
    /// The app called `sign_out()`.
    UserIntent,
    /// The session reached its expiry (server time) without being refreshed.
    Expired,
    /// Dynamic refused to refresh the session (HTTP 401).
    RefreshUnauthorized,
    /// Dynamic says the session was revoked (signed out elsewhere, or by an administrator).
    Revoked,
    /// A sign-in as a different user replaced the session. A `SignedIn` state follows.
    Replaced,
    /// The stored session could not be decoded (or is not a record this library ever wrote); it
    /// was treated as absent. The record is left in place, not deleted. (A record written by a
    /// newer version of the library reads as `StorageUnavailable` instead.)
    StorageCorrupt,
    /// The app reported a fresh install: a session stored by a previous install was deleted
    /// rather than restored.
    FreshInstall,
}

impl SignOutReason {
    /// The `x-dyn-logout-reason` value Dynamic's JavaScript client sends for this reason
    /// (contract §4.2), where the contract has one.
    pub(crate) fn logout_header(self) -> Option<&'static str> {
        match self {
            Self::UserIntent => Some("user-intent"),
            Self::Expired => Some("token-expired"),
            Self::RefreshUnauthorized => Some("session-refresh-unauthorized"),
            Self::Revoked | Self::Replaced | Self::StorageCorrupt | Self::FreshInstall => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserIntent => "user_intent",
            Self::Expired => "expired",
            Self::RefreshUnauthorized => "refresh_unauthorized",
            Self::Revoked => "revoked",
            Self::Replaced => "replaced",
            Self::StorageCorrupt => "storage_corrupt",
            Self::FreshInstall => "fresh_install",
        }
    }
}

impl std::fmt::Display for SignOutReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Receives every change of [`AuthState`], in order. Called on the library's thread, never
/// while the client holds a lock, so a listener may call back into the client. It should return
/// quickly; a listener that throws (or panics) is skipped for that event and stays registered.
#[uniffi::export(with_foreign)]
pub trait AuthListener: Send + Sync {
    fn on_state_changed(&self, state: AuthState);
}

/// Returned by `auth().add_listener(...)`; `remove()` unregisters the listener. Dropping the
/// handle does not remove it (foreign garbage collection would make that unpredictable).
#[derive(uniffi::Object)]
#[uniffi::export(Debug)]
pub struct ListenerHandle {
    pub(crate) id: u64,
    pub(crate) owner: Weak<dyn ListenerOwner>,
}

impl std::fmt::Debug for ListenerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerHandle")
            .field("id", &self.id)
            .field("client_alive", &self.owner.upgrade().is_some())
            .finish()
    }
}

#[uniffi::export]
impl ListenerHandle {
    /// Stops delivering events to the listener. Idempotent.
    pub fn remove(&self) {
        if let Some(owner) = self.owner.upgrade() {
            owner.remove_listener(self.id);
        }
    }
}

/// What a [`ListenerHandle`] points back to (the client's session manager).
pub(crate) trait ListenerOwner: Send + Sync {
    fn remove_listener(&self, id: u64);
}

/// Calls `listener`, containing whatever it throws: one broken listener must not stop the
/// others or the client.
pub(crate) fn deliver(listener: &Arc<dyn AuthListener>, state: AuthState) {
    let call = std::panic::AssertUnwindSafe(|| listener.on_state_changed(state));
    if std::panic::catch_unwind(call).is_err() {
        log_at!(
            LogLevel::Warn,
            target::EVENTS,
            "an auth listener failed; it stays registered"
        );
    }
}
