//! The key port: P-256 keys that live where the platform keeps them safest.
//!
//! On phones the app implements [`KeySigner`] with the Secure Enclave (iOS) or the Android
//! Keystore (StrongBox when present): the private keys never enter the app's memory, and this
//! library only ever sees public keys and signatures. The software implementation for platforms
//! without hardware keys is `crate::device::keys::SoftwareKeySigner`.

use crate::ports::storage::StorageError;
use crate::support::redact::scrub;

/// P-256 keys by name, implemented by the app over the platform's key store (Secure Enclave,
/// Android Keystore). Calls may block briefly (they run off the caller's thread). Keys must be
/// usable without user interaction: the client signs during background refreshes.
#[uniffi::export(with_foreign)]
pub trait KeySigner: Send + Sync {
    /// The public key of the P-256 key named `name`, creating the key first if there is none:
    /// the compressed point in hex (`02`/`03` then 32 bytes, 66 characters). Must be atomic
    /// per name: two concurrent calls for a new name return the same key.
    fn get_or_create_key(&self, name: String) -> Result<String, KeySignerError>;
    /// ECDSA with SHA-256 over `message` (the signer hashes it) with the key named `name`.
    /// Either the raw 64-byte `r || s` or the X9.62 DER encoding that Secure Enclave
    /// (`ecdsaSignatureMessageX962SHA256`) and Android Keystore (`SHA256withECDSA`) produce.
    fn sign(&self, name: String, message: Vec<u8>) -> Result<Vec<u8>, KeySignerError>;
    /// Deletes the key named `name`; deleting a missing key succeeds.
    fn delete_key(&self, name: String) -> Result<(), KeySignerError>;
}

/// Why a key operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum KeySignerError {
    /// The key store cannot be used right now (device locked, keystore busy): retried later.
    #[error("key store temporarily unavailable: {detail}")]
    Unavailable { detail: String },
    /// There is no key by that name (for `sign`).
    #[error("no such key: {detail}")]
    NotFound { detail: String },
    /// Failed for another reason (hardware error, invalidated key, corrupted entry).
    #[error("key operation failed: {detail}")]
    Failed { detail: String },
}

impl KeySignerError {
    /// The same error with its text scrubbed of anything token-like.
    pub(crate) fn scrubbed(&self) -> Self {
        match self {
            Self::Unavailable { detail } => Self::Unavailable {
                detail: scrub(detail),
            },
            Self::NotFound { detail } => Self::NotFound {
                detail: scrub(detail),
            },
            Self::Failed { detail } => Self::Failed {
                detail: scrub(detail),
            },
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for KeySignerError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Failed {
            detail: scrub(&error.reason),
        }
    }
}

impl From<StorageError> for KeySignerError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Unavailable { detail } => Self::Unavailable { detail },
            StorageError::Failed { detail } => Self::Failed { detail },
        }
    }
}
