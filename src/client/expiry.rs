//! Expiry and automatic refresh: when the scheduler wakes, and what it does then. The
//! arithmetic (refresh instant, backoff) is in `plan`.

use super::plan;
use super::*;

impl Core {
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
    pub(super) async fn recalibrate(&self) {
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
        let at = if self.settings.auto_refresh {
            plan::refresh_at(
                expires,
                session.received_at,
                self.settings.refresh_margin_seconds,
                self.retry_state().not_before,
            )
        } else {
            expires
        };
        let session_wake = from_unix_seconds(at.saturating_sub(self.lifecycle.server_offset()));
        Some(write_retry.map_or(session_wake, |retry| retry.min(session_wake)))
    }

    /// When to retry a storage write that failed (5 s, 10 s, ... up to a minute after now).
    pub(super) fn write_retry_at(&self) -> Option<SystemTime> {
        let failures = self.retry_state().write_failures;
        if failures == 0 || !self.lifecycle.is_dirty() {
            return None;
        }
        let pause = plan::write_pause(failures);
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
                    self.retry_state().not_before =
                        Some(self.server_now() + plan::MAX_REFRESH_PAUSE);
                }
            }
            Err(error) => self.note_refresh_failure(error),
        }
    }

    /// Backs off after a failed automatic refresh: 10 s, 20 s, 40 s ... up to 5 minutes, and
    /// never past expiry (`next_wake` caps it).
    pub(super) fn note_refresh_failure(&self, error: Error) {
        let now = self.server_now();
        let pause = {
            let mut retry = self.retry_state();
            retry.failures += 1;
            let pause = plan::refresh_pause(retry.failures);
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

    pub(super) fn retry_state(&self) -> std::sync::MutexGuard<'_, RetryState> {
        self.retry.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn reset_retries(&self) {
        *self.retry_state() = RetryState::default();
    }
}
