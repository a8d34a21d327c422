//! The storage port: where the session is kept between launches.
//!
//! Apps implement [`SessionStorage`] with the platform's secure store (Keychain on iOS, a
//! Keystore-backed store on Android). Two implementations ship here: [`MemoryStorage`] (the
//! default: nothing survives the process) and [`FileStorage`] (atomic files, for the CLI, tests
//! and desktop tools; not encrypted).
//!
//! The one rule that matters: an implementation must say *why* a read failed. "The keychain is
//! not readable yet" ([`StorageError::Unavailable`]) is not "there is no session", and the client
//! never treats it as one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::support::redact::scrub;

/// Key-value storage of strings, implemented by the app. Calls may block briefly (they run off
/// the caller's thread); they are never made concurrently by one client.
#[uniffi::export(with_foreign)]
pub trait SessionStorage: Send + Sync {
    /// The value stored under `key`, or `None` when there is none.
    fn get(&self, key: String) -> Result<Option<String>, StorageError>;
    /// Stores `value` under `key`, replacing any previous value as one atomic step.
    fn set(&self, key: String, value: String) -> Result<(), StorageError>;
    /// Removes `key`; removing a missing key succeeds.
    fn delete(&self, key: String) -> Result<(), StorageError>;
}

/// Why a storage call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum StorageError {
    /// Temporarily unreadable or unwritable: the device is locked, protected data is not
    /// available yet (iOS prewarming, before first unlock), the keystore is busy. Retried later;
    /// never read as "no session".
    #[error("storage temporarily unavailable: {detail}")]
    Unavailable { detail: String },
    /// Failed for another reason (I/O error, corrupted keystore entry).
    #[error("storage failed: {detail}")]
    Failed { detail: String },
}

impl StorageError {
    /// The same error with its text scrubbed of anything token-like: a store's message might
    /// quote the value it failed to write.
    pub(crate) fn scrubbed(&self) -> Self {
        match self {
            Self::Unavailable { detail } => Self::Unavailable {
                detail: scrub(detail),
            },
            Self::Failed { detail } => Self::Failed {
                detail: scrub(detail),
            },
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for StorageError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Failed {
            detail: scrub(&error.reason),
        }
    }
}

/// Keeps values in memory: sessions last as long as the process. The default store.
#[derive(Default)]
pub struct MemoryStorage {
    values: Mutex<std::collections::HashMap<String, String>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    fn values(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SessionStorage for MemoryStorage {
    fn get(&self, key: String) -> Result<Option<String>, StorageError> {
        Ok(self.values().get(&key).cloned())
    }

    fn set(&self, key: String, value: String) -> Result<(), StorageError> {
        self.values().insert(key, value);
        Ok(())
    }

    fn delete(&self, key: String) -> Result<(), StorageError> {
        self.values().remove(&key);
        Ok(())
    }
}

/// Keeps each value in its own file in a directory: written to a temporary file, flushed, then
/// renamed over the old one, so a crash leaves either the old value or the new one, never half
/// of one. Files are readable by the owner only (on Unix). Not encrypted: for the CLI, tests and
/// desktop tools, not for phones.
pub struct FileStorage {
    dir: PathBuf,
}

impl FileStorage {
    /// Stores under `dir`, creating it if needed (on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keys are our own (`dynamic_<uuid>_session`), but a key is never allowed to name a path
    /// outside the directory.
    fn path(&self, key: &str) -> Result<PathBuf, StorageError> {
        let safe = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !safe {
            return Err(StorageError::Failed {
                detail: format!("unsupported key {key:?}"),
            });
        }
        Ok(self.dir.join(format!("{key}.json")))
    }

    fn write_atomically(&self, path: &Path, value: &str) -> std::io::Result<()> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir)?;
        // Unique per write, so that two stores on one directory never share a temporary file.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let temp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
        let result = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temp)?;
            file.write_all(value.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temp, path)?;
            // The rename itself is durable only once the directory is flushed.
            #[cfg(unix)]
            std::fs::File::open(&self.dir)?.sync_all()?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }
}

fn io_failure(action: &str, path: &Path, error: std::io::Error) -> StorageError {
    StorageError::Failed {
        detail: format!("{action} {}: {error}", path.display()),
    }
}

impl SessionStorage for FileStorage {
    fn get(&self, key: String) -> Result<Option<String>, StorageError> {
        let path = self.path(&key)?;
        match std::fs::read(&path) {
            // Bytes that are not UTF-8 are a corrupt record (reported as such by the client),
            // not a failing store.
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_failure("read", &path, e)),
        }
    }

    fn set(&self, key: String, value: String) -> Result<(), StorageError> {
        let path = self.path(&key)?;
        self.write_atomically(&path, &value)
            .map_err(|e| io_failure("write", &path, e))
    }

    fn delete(&self, key: String) -> Result<(), StorageError> {
        let path = self.path(&key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_failure("delete", &path, e)),
        }
    }
}

/// An in-memory store, for platforms and tests that keep nothing between launches.
#[uniffi::export]
pub fn memory_storage() -> Arc<dyn SessionStorage> {
    Arc::new(MemoryStorage::new())
}

/// A file-backed store in `directory` (atomic writes; owner-only files; not encrypted). For
/// desktop tools and tests; on phones use the platform's secure store.
#[uniffi::export]
pub fn file_storage(directory: String) -> Arc<dyn SessionStorage> {
    Arc::new(FileStorage::new(directory))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distinct per call in this process: tests run in parallel on one temp directory.
    fn unique() -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "dynamic-byoa-storage-{name}-{}-{}",
            std::process::id(),
            unique()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn file_storage_round_trips_replaces_and_deletes() {
        let dir = temp_dir("round-trip");
        let store = FileStorage::new(&dir);
        let key = "dynamic_2762a57b-faa4-41ce-9f16-abff9300e2c9_session".to_owned();
        assert_eq!(store.get(key.clone()), Ok(None));
        store.set(key.clone(), "one".into()).unwrap();
        store.set(key.clone(), "two".into()).unwrap();
        assert_eq!(store.get(key.clone()), Ok(Some("two".into())));
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
        store.delete(key.clone()).unwrap();
        store.delete(key.clone()).unwrap();
        assert_eq!(store.get(key), Ok(None));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn file_storage_files_are_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("mode");
        let store = FileStorage::new(&dir);
        store.set("k".into(), "v".into()).unwrap();
        let mode = std::fs::metadata(dir.join("k.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn file_storage_refuses_keys_that_could_escape_its_directory() {
        let store = FileStorage::new(temp_dir("escape"));
        for key in ["../x", "a/b", "", "a.b"] {
            assert!(matches!(
                store.set(key.into(), "v".into()),
                Err(StorageError::Failed { .. })
            ));
        }
    }
}
