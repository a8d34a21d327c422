//! Refresh, and the always-fresh access token built on it.

use super::*;

impl Core {
    pub async fn refresh(&self) -> Result<SignedInSession, Error> {
        self.restore_if_unsettled().await;
        self.persist().await;
        self.refreshes
            .run((), || async { self.refresh_once().await })
            .await
    }

    pub(super) async fn refresh_once(&self) -> Result<SignedInSession, Error> {
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
    pub(super) async fn usable_session(&self) -> Result<Session, Error> {
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
    pub(super) fn outlives(&self, session: &Session, min_ttl_seconds: i64) -> bool {
        let expires = session.expires_at_unix();
        let lifetime = expires.saturating_sub(session.received_at).max(0);
        let min_ttl = min_ttl_seconds.min(lifetime / 2);
        expires.saturating_sub(self.server_now()) > min_ttl
    }

    /// Refreshes `seen`, unless it was replaced since the caller looked (a refresh that
    /// finished meanwhile, or a new sign-in): then the current session is as new as a refresh
    /// would make it, and no request is sent. Shares the refresh in flight, if any.
    pub(super) async fn refresh_after(&self, seen: &Session) -> Result<SignedInSession, Error> {
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
}
