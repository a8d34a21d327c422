//! Sign-out and revocation.

use super::*;

impl Core {
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
    pub(super) async fn read_stored_bearer(&self) -> Option<(String, Option<SessionKey>)> {
        match self.read_record().await {
            Found::Record(record) => Some((record.token, record.session_key)),
            _ => None,
        }
    }

    pub(super) async fn revoke(
        &self,
        bearer: &str,
        session_key: Option<&SessionKey>,
        reason: SignOutReason,
    ) {
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
    pub(super) fn revoke_in_background(&self, session: Session, reason: SignOutReason) {
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
}
