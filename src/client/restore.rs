//! Restore at start-up and persistence: reading, decoding (and upgrading) the record, writing the state back.

use super::*;

impl Core {
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

    pub(super) async fn restore_if_unsettled(&self) {
        if matches!(
            self.lifecycle.state(),
            AuthState::Restoring | AuthState::StorageUnavailable { .. }
        ) {
            self.restore().await;
        }
    }

    pub(super) async fn restore_once(&self) {
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
    pub(super) async fn settle_expired_restore(&self, session: Session) {
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
    pub(super) async fn read_record(&self) -> Found {
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
    pub(super) async fn decode_record(&self, text: &str) -> Found {
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
    pub(super) async fn write_upgraded(&self, record: &StoredSession, from_version: u32) {
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
    pub(super) async fn persist_locked(&self) {
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
    pub(super) async fn call_storage<T: Send + 'static>(
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
}
