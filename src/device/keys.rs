//! The software key signer, for platforms without hardware keys, and the conversions every
//! signer's output goes through (public keys to the contract's hex, DER signatures to raw).
//!
//! [`SoftwareKeySigner`] (exported as `software_key_signer(storage)`) does in Rust with
//! RustCrypto's `p256` what the Secure Enclave or Android Keystore do on phones, keeping the key
//! material in a [`SessionStorage`]: for the CLI, tests, desktop tools and platforms without a
//! hardware store. It protects against a leaked bearer token, not against code that can read
//! that storage (see `docs/device-binding.md`).

use std::sync::Arc;

use dynamic_byoa_contract::device::{decode_hex, encode_hex};
use dynamic_byoa_contract::is_session_public_key;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::ports::key_signer::{KeySigner, KeySignerError};
use crate::ports::storage::SessionStorage;

/// A signer's public key, checked and in the contract's form (lowercase hex).
pub(crate) fn normalized_public_key(key: &str) -> Result<String, KeySignerError> {
    let key = key.trim().to_ascii_lowercase();
    if is_session_public_key(&key) {
        Ok(key)
    } else {
        Err(KeySignerError::Failed {
            detail: "the key signer returned a public key that is not a compressed P-256 point"
                .into(),
        })
    }
}

/// A signer's signature as the contract sends it: the raw 64-byte `r || s` (WebCrypto's form),
/// converted from DER when the platform produced DER.
pub(crate) fn raw_signature(signature: &[u8]) -> Result<[u8; 64], KeySignerError> {
    if let Ok(raw) = <[u8; 64]>::try_from(signature) {
        return Ok(raw);
    }
    der_to_raw(signature).ok_or_else(|| KeySignerError::Failed {
        detail: format!(
            "the key signer returned {} bytes that are neither raw r||s nor a DER ECDSA signature",
            signature.len()
        ),
    })
}

/// `SEQUENCE { INTEGER r, INTEGER s }` to 32-byte big-endian `r` and `s`, by the `ecdsa` crate's
/// DER parser (strict DER; `r` and `s` must be non-zero scalars below the curve order).
pub(crate) fn der_to_raw(der: &[u8]) -> Option<[u8; 64]> {
    let signature = p256::ecdsa::Signature::from_der(der).ok()?;
    Some(signature.to_bytes().into())
}

/// Version of the software signer's stored key record.
const KEY_RECORD_VERSION: u32 = 1;

/// What [`SoftwareKeySigner`] stores per key, under the key's name. camelCase like the session
/// record. The secret scalar is hex: this record is exactly as secret as the store keeping it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredKey {
    version: u32,
    curve: String,
    secret_key: String,
}

/// [`KeySigner`] in software: P-256 keys generated from the OS random source, kept in a
/// [`SessionStorage`] under their names, ECDSA-SHA256 with deterministic nonces (RFC 6979).
/// Protects against leaked bearer tokens being replayed from elsewhere; does not protect against
/// anything that can read the storage (malware, a backup of it, a rooted device).
pub struct SoftwareKeySigner {
    storage: Arc<dyn SessionStorage>,
    /// Makes load-or-create atomic: two first calls must not each store a key of their own.
    create: std::sync::Mutex<()>,
}

impl SoftwareKeySigner {
    pub fn new(storage: Arc<dyn SessionStorage>) -> Self {
        Self {
            storage,
            create: std::sync::Mutex::new(()),
        }
    }

    fn load(&self, name: &str) -> Result<Option<SigningKey>, KeySignerError> {
        let Some(text) = self.storage.get(name.to_owned())?.map(Zeroizing::new) else {
            return Ok(None);
        };
        let record: StoredKey = serde_json::from_str(&text).map_err(|_| corrupt(name))?;
        if record.version != KEY_RECORD_VERSION || record.curve != "P-256" {
            drop(Zeroizing::new(record.secret_key));
            return Err(corrupt(name));
        }
        let record = Zeroizing::new(record.secret_key);
        let bytes = Zeroizing::new(decode_hex(&record).ok_or_else(|| corrupt(name))?);
        SigningKey::from_slice(&bytes[..])
            .map(Some)
            .map_err(|_| corrupt(name))
    }

    fn generate() -> Result<SigningKey, KeySignerError> {
        // A random 32-byte string is a valid scalar except with probability ~2^-32; retry then.
        for _ in 0..8 {
            let mut bytes = Zeroizing::new([0u8; 32]);
            getrandom::getrandom(&mut bytes[..]).map_err(|e| KeySignerError::Failed {
                detail: format!("the OS random source failed: {e}"),
            })?;
            if let Ok(key) = SigningKey::from_slice(&bytes[..]) {
                return Ok(key);
            }
        }
        Err(KeySignerError::Failed {
            detail: "could not draw a valid P-256 scalar".into(),
        })
    }
}

impl std::fmt::Debug for SoftwareKeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SoftwareKeySigner { keys: <in storage> }")
    }
}

fn corrupt(name: &str) -> KeySignerError {
    KeySignerError::Failed {
        detail: format!("the stored key {name} does not decode"),
    }
}

fn public_hex(key: &SigningKey) -> String {
    encode_hex(key.verifying_key().to_encoded_point(true).as_bytes())
}

impl KeySigner for SoftwareKeySigner {
    fn get_or_create_key(&self, name: String) -> Result<String, KeySignerError> {
        let _creating = self.create.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = self.load(&name)? {
            return Ok(public_hex(&key));
        }
        let key = Self::generate()?;
        let secret = Zeroizing::new(key.to_bytes());
        let record = StoredKey {
            version: KEY_RECORD_VERSION,
            curve: "P-256".into(),
            secret_key: encode_hex(&secret),
        };
        let text =
            Zeroizing::new(serde_json::to_string(&record).expect("a key record always serialises"));
        drop(Zeroizing::new(record.secret_key));
        self.storage.set(name, String::clone(&text))?;
        Ok(public_hex(&key))
    }

    fn sign(&self, name: String, message: Vec<u8>) -> Result<Vec<u8>, KeySignerError> {
        let key = self.load(&name)?.ok_or_else(|| KeySignerError::NotFound {
            detail: name.clone(),
        })?;
        let signature: Signature = key.sign(&message);
        Ok(signature.to_bytes().to_vec())
    }

    fn delete_key(&self, name: String) -> Result<(), KeySignerError> {
        Ok(self.storage.delete(name)?)
    }
}

/// A software key signer that keeps its keys in `storage` (for example `file_storage(dir)`):
/// for desktop tools, tests and platforms without a hardware key store. On phones, implement
/// `KeySigner` over the Secure Enclave or Android Keystore instead.
#[uniffi::export]
pub fn software_key_signer(storage: Arc<dyn SessionStorage>) -> Arc<dyn KeySigner> {
    Arc::new(SoftwareKeySigner::new(storage))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::storage::MemoryStorage;

    #[test]
    fn concurrent_first_calls_for_a_name_get_one_key() {
        let signer = Arc::new(SoftwareKeySigner::new(Arc::new(MemoryStorage::new())));
        let keys: Vec<String> = (0..8)
            .map(|_| {
                let signer = signer.clone();
                std::thread::spawn(move || signer.get_or_create_key("k".into()).unwrap())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .collect();
        assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
        assert_eq!(signer.get_or_create_key("k".into()).unwrap(), keys[0]);
    }

    #[test]
    fn a_key_record_of_another_version_or_curve_is_refused_not_misread() {
        let storage = Arc::new(MemoryStorage::new());
        let signer = SoftwareKeySigner::new(storage.clone());
        let secret = "11".repeat(32);
        for (version, curve) in [(2, "P-256"), (1, "P-384")] {
            let record =
                format!(r#"{{"version":{version},"curve":"{curve}","secretKey":"{secret}"}}"#);
            storage.set("k".into(), record).unwrap();
            let error = signer.sign("k".into(), b"n".to_vec()).unwrap_err();
            assert!(matches!(error, KeySignerError::Failed { .. }), "{error:?}");
            assert!(!error.to_string().contains(&secret));
        }
    }
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    fn signer() -> (Arc<MemoryStorage>, SoftwareKeySigner) {
        let storage = Arc::new(MemoryStorage::new());
        (storage.clone(), SoftwareKeySigner::new(storage))
    }

    #[test]
    fn a_key_is_created_once_and_signs_verifiable_raw_signatures() {
        let (_, signer) = signer();
        let public = signer.get_or_create_key("k".into()).unwrap();
        assert!(is_session_public_key(&public), "{public}");
        assert_eq!(signer.get_or_create_key("k".into()).unwrap(), public);
        let signature = signer.sign("k".into(), b"nonce".to_vec()).unwrap();
        assert_eq!(signature.len(), 64);
        let key = VerifyingKey::from_sec1_bytes(&decode_hex(&public).unwrap()).unwrap();
        let signature = Signature::from_slice(&signature).unwrap();
        assert!(key.verify(b"nonce", &signature).is_ok());
        assert!(key.verify(b"other", &signature).is_err());
    }

    #[test]
    fn keys_are_distinct_by_name_and_deleted_keys_are_gone() {
        let (storage, signer) = signer();
        let a = signer.get_or_create_key("a".into()).unwrap();
        let b = signer.get_or_create_key("b".into()).unwrap();
        assert_ne!(a, b);
        signer.delete_key("a".into()).unwrap();
        signer.delete_key("a".into()).unwrap();
        assert!(storage.get("a".into()).unwrap().is_none());
        assert!(matches!(
            signer.sign("a".into(), vec![1]),
            Err(KeySignerError::NotFound { .. })
        ));
        assert_ne!(signer.get_or_create_key("a".into()).unwrap(), a);
    }

    #[test]
    fn a_key_survives_a_new_signer_on_the_same_store() {
        let (storage, signer) = signer();
        let public = signer.get_or_create_key("device".into()).unwrap();
        let again = SoftwareKeySigner::new(storage);
        assert_eq!(again.get_or_create_key("device".into()).unwrap(), public);
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let (storage, signer) = signer();
        signer.get_or_create_key("k".into()).unwrap();
        let stored = storage.get("k".into()).unwrap().unwrap();
        let secret: serde_json::Value = serde_json::from_str(&stored).unwrap();
        let secret = secret["secretKey"].as_str().unwrap().to_owned();
        assert_eq!(secret.len(), 64);
        assert!(!format!("{signer:?}").contains(&secret));
    }

    #[test]
    fn der_signatures_become_raw_r_and_s() {
        let mut r = [0u8; 32];
        r[0] = 0x80; // high bit: DER needs a leading zero
        r[31] = 1;
        let mut s = [0u8; 32];
        s[30] = 0x7f; // short: DER drops leading zeros
        s[31] = 2;
        let mut der = vec![0x30, 0];
        der.extend([0x02, 33, 0]);
        der.extend(r);
        der.extend([0x02, 2, 0x7f, 2]);
        der[1] = (der.len() - 2) as u8;
        let raw = raw_signature(&der).unwrap();
        assert_eq!(&raw[..32], &r);
        assert_eq!(&raw[32..], &s);
        let mut raw64 = [7u8; 64];
        raw64[0] = 0x30;
        assert_eq!(raw_signature(&raw64).unwrap(), raw64, "64 bytes are raw");
        assert!(raw_signature(&[0x30, 3, 2, 1, 1]).is_err());
        assert!(raw_signature(&[]).is_err());
    }

    #[test]
    fn public_keys_are_normalised_to_lowercase_and_checked() {
        let key = format!("02{}", "AB".repeat(32));
        assert_eq!(normalized_public_key(&key).unwrap(), key.to_lowercase());
        assert!(normalized_public_key("04abcd").is_err());
    }
}
