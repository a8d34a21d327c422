//! Device-bound sessions: what ties a Dynamic session to keys on this device.
//!
//! * A **session key** (P-256), new for every sign-in: its public key goes in the sign-in body
//!   (`sessionPublicKey`, contract §1.1) and in `x-dyn-session-public-key` (§1.2); Dynamic puts it
//!   in the minted token's `session_public_key` claim (§4.7), which is checked before the session
//!   is kept. The key is deleted when its session ends (sign-out, expiry, refusal, replacement),
//!   so the next sign-in gets a new one: the rotation of §5.6, per sign-in rather than per
//!   sign-out. A sign-in that fails deletes only the key it created, never the current one.
//! * A **device key** (P-256), created once per install and environment and kept: on
//!   `externalAuth/signin` and `refresh` it signs a one-time server nonce, sent as
//!   `x-dynamic-device-nonce`, `x-dynamic-device-publickey` and `x-dynamic-device-signed-nonce`
//!   (hex of the raw r||s, §4.10).
//!
//! Keys live behind the [`KeySigner`] port (Secure Enclave, Android Keystore, or the software
//! signer). Device headers are best effort, as in Dynamic's JavaScript client: when no nonce or
//! signature can be had, the request goes without them, and only an environment that requires
//! them refuses it (`device_nonce_unavailable`). Session-key binding is strict: when it is on and
//! the key cannot be created, the sign-in fails (`key_unavailable`) rather than silently going
//! unbound.
//!
//! Folder: this flow (`Binding`), the software key signer and signature conversions (`keys`), the
//! device-nonce pool (`nonces`) and the session key record (`session_key`).
//! May import: `error`, `network`, `ports`, `support`.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use dynamic_byoa_contract::device::encode_hex;
use dynamic_byoa_contract::headers::{
    X_DYN_SESSION_PUBLIC_KEY, X_DYNAMIC_DEVICE_NONCE, X_DYNAMIC_DEVICE_PUBLICKEY,
    X_DYNAMIC_DEVICE_SIGNED_NONCE,
};
use dynamic_byoa_contract::{CODE_INVALID_DEVICE_SIGNATURE, DeviceSignatureRejection};
use serde::Deserialize;

pub(crate) mod keys;
pub(crate) mod nonces;
mod session_key;

pub(crate) use session_key::SessionKey;

use crate::error::{ByoaError, Error};
use crate::network::Transport;
use crate::ports::key_signer::{KeySigner, KeySignerError};
use crate::support::logging::{LogLevel, log_at, target};
use keys::{normalized_public_key, raw_signature};
use nonces::NoncePool;

/// The device headers of one request, or why there are none.
pub(crate) struct DeviceProof {
    headers: Vec<(&'static str, String)>,
    /// Set when a signer is configured but the proof could not be made (no nonce, signer
    /// failure): a "missing headers" refusal is then explained by it.
    unavailable: Option<String>,
}

impl DeviceProof {
    /// The headers to send: the device proof plus `x-dyn-session-public-key` when bound.
    pub fn headers(&self, session_public_key: Option<&str>) -> Vec<(&'static str, String)> {
        let mut headers = self.headers.clone();
        if let Some(key) = session_public_key {
            headers.push((X_DYN_SESSION_PUBLIC_KEY, key.to_owned()));
        }
        headers
    }
}

pub(crate) struct Binding {
    signer: Option<Arc<dyn KeySigner>>,
    bind_session_key: bool,
    environment_id: String,
    nonces: Arc<NoncePool>,
    /// The device key's public half, once known (the key itself stays in the signer).
    device_public_key: Mutex<Option<String>>,
    /// Serialises the first use of the device key: two requests creating it at once would
    /// each make a key, and the cache could keep the one the store no longer holds.
    device_key_gate: tokio::sync::Mutex<()>,
}

impl Binding {
    pub fn new(
        signer: Option<Arc<dyn KeySigner>>,
        bind_session_key: bool,
        environment_id: &str,
    ) -> Self {
        Self {
            signer,
            bind_session_key,
            environment_id: environment_id.to_owned(),
            nonces: Arc::default(),
            device_public_key: Mutex::new(None),
            device_key_gate: tokio::sync::Mutex::new(()),
        }
    }

    /// The device key's name: `dynamic_<environmentId>_device_key`, one per install and
    /// environment (the software signer stores it under this storage key).
    fn device_key_name(&self) -> String {
        format!("dynamic_{}_device_key", self.environment_id)
    }

    /// A new session key's name: `dynamic_<environmentId>_session_key_<random>`. Unique per
    /// sign-in, so a failed sign-in never touches the current session's key.
    fn new_session_key_name(&self) -> String {
        let suffix = &crate::network::request_id()[..16];
        format!("dynamic_{}_session_key_{suffix}", self.environment_id)
    }

    /// Creates the session key of a sign-in, when binding is on and a signer is available.
    pub async fn create_session_key(&self) -> Result<Option<SessionKey>, Error> {
        let Some(signer) = self.signer.clone().filter(|_| self.bind_session_key) else {
            return Ok(None);
        };
        let name = self.new_session_key_name();
        let key_name = name.clone();
        let public_key = blocking(move || signer.get_or_create_key(key_name))
            .await
            .and_then(|key| normalized_public_key(&key))
            .map_err(key_unavailable)?;
        Ok(Some(SessionKey {
            name: Some(name),
            public_key,
        }))
    }

    /// The name of a session key this client may delete: one it created, by its name's shape.
    /// A key the app brought has no name; a stored record edited to name another key (the
    /// device key, say) names nothing deletable.
    fn deletable(&self, key: Option<&SessionKey>) -> Option<(Arc<dyn KeySigner>, String)> {
        let prefix = format!("dynamic_{}_session_key_", self.environment_id);
        let name = key?.name.clone().filter(|name| name.starts_with(&prefix))?;
        Some((self.signer.clone()?, name))
    }

    /// Deletes a session key the client created (never one the app brought). A failure is
    /// logged: the key is then an orphan in the store, bound to a session that has ended.
    pub async fn delete_session_key(&self, key: Option<&SessionKey>) {
        if let Some((signer, name)) = self.deletable(key) {
            delete_key(signer, name).await;
        }
    }

    /// `delete_session_key` without waiting for it.
    pub fn delete_session_key_in_background(&self, key: Option<&SessionKey>) {
        if let Some((signer, name)) = self.deletable(key) {
            crate::support::runtime::spawn(delete_key(signer, name));
        }
    }

    /// The device headers for one sign-in or refresh, at `server_now` (unix seconds, server
    /// clock). Never fails: without a signer there are none, and a failure leaves them out.
    pub async fn device_proof(&self, transport: &Transport, server_now: i64) -> DeviceProof {
        let Some(signer) = self.signer.clone() else {
            return DeviceProof {
                headers: Vec::new(),
                unavailable: None,
            };
        };
        match self.sign_nonce(signer, transport, server_now).await {
            Ok(headers) => DeviceProof {
                headers,
                unavailable: None,
            },
            Err(why) => {
                log_at!(
                    LogLevel::Warn,
                    target::BINDING,
                    "sending without device signature: {why}"
                );
                DeviceProof {
                    headers: Vec::new(),
                    unavailable: Some(why),
                }
            }
        }
    }

    async fn sign_nonce(
        &self,
        signer: Arc<dyn KeySigner>,
        transport: &Transport,
        server_now: i64,
    ) -> Result<Vec<(&'static str, String)>, String> {
        let public_key = self.device_public_key(signer.clone()).await?;
        let nonce = self
            .nonces
            .take(transport, server_now)
            .await
            .map_err(|error| format!("no nonce: {}", ByoaError::from(error)))?;
        self.refill_if_low(transport, server_now);
        let (name, message) = (self.device_key_name(), nonce.clone().into_bytes());
        let signature = blocking(move || signer.sign(name, message))
            .await
            .and_then(|signature| raw_signature(&signature))
            .map_err(|error| format!("the device key could not sign: {}", error.scrubbed()))?;
        Ok(vec![
            (X_DYNAMIC_DEVICE_NONCE, nonce),
            (X_DYNAMIC_DEVICE_PUBLICKEY, public_key),
            (X_DYNAMIC_DEVICE_SIGNED_NONCE, encode_hex(&signature)),
        ])
    }

    /// The device key's public key, creating the key on first use.
    async fn device_public_key(&self, signer: Arc<dyn KeySigner>) -> Result<String, String> {
        if let Some(known) = self.lock_device_key().clone() {
            return Ok(known);
        }
        let _first_use = self.device_key_gate.lock().await;
        if let Some(known) = self.lock_device_key().clone() {
            return Ok(known);
        }
        let name = self.device_key_name();
        let public_key = blocking(move || signer.get_or_create_key(name))
            .await
            .and_then(|key| normalized_public_key(&key))
            .map_err(|error| format!("no device key: {}", error.scrubbed()))?;
        *self.lock_device_key() = Some(public_key.clone());
        Ok(public_key)
    }

    fn lock_device_key(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.device_public_key
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Starts filling the nonce pool in the background when a signer is configured and the
    /// pool is running low (also at start-up, so the first sign-in does not wait for it).
    pub fn refill_if_low(&self, transport: &Transport, server_now: i64) {
        if self.signer.is_none() || !self.nonces.is_low(server_now) {
            return;
        }
        let (pool, transport) = (self.nonces.clone(), transport.clone());
        crate::support::runtime::spawn(async move {
            if let Err(error) = pool.fill(&transport, server_now).await {
                log_at!(
                    LogLevel::Info,
                    target::BINDING,
                    "refilling the nonce pool failed (retried on demand): {}",
                    ByoaError::from(error).code_str()
                );
            }
        });
    }

    /// A request's error in the light of its device proof: a nonce problem empties the pool
    /// (the next request fetches fresh ones), and "headers missing" after the proof could not
    /// be made says why it could not (`device_nonce_unavailable`).
    pub fn explain(&self, error: Error, proof: &DeviceProof) -> Error {
        let Some(reason) = device_rejection(&error) else {
            return error;
        };
        if reason.is_some_and(DeviceSignatureRejection::is_nonce_problem) {
            self.nonces.clear();
        }
        if matches!(
            reason,
            Some(
                DeviceSignatureRejection::InvalidSignature
                    | DeviceSignatureRejection::InvalidPublicKey
                    | DeviceSignatureRejection::KeyMismatch
            )
        ) {
            // The cached public key may not be the signer's key any more (it was replaced
            // behind the client's back): ask the signer again next time.
            *self.lock_device_key() = None;
        }
        match (&proof.unavailable, reason) {
            (Some(why), Some(DeviceSignatureRejection::MissingHeaders)) => {
                Error::DeviceNonceUnavailable(why.clone())
            }
            _ => error,
        }
    }
}

/// Deletes a session key off the async worker; a failure is logged (the key is then an orphan,
/// bound to a session that has ended).
async fn delete_key(signer: Arc<dyn KeySigner>, name: String) {
    if let Err(error) = blocking(move || signer.delete_key(name)).await {
        log_at!(
            LogLevel::Warn,
            target::BINDING,
            "deleting an ended session's key failed: {}",
            error.scrubbed()
        );
    }
}

/// True when Dynamic refused the request's nonce (unknown, reused, expired): a fresh nonce may
/// succeed where this one failed.
pub(crate) fn is_nonce_refusal(error: &Error) -> bool {
    device_rejection(error)
        .flatten()
        .is_some_and(DeviceSignatureRejection::is_nonce_problem)
}

/// The refusal a device-signature error names, if the error is one (`Some(None)`: one whose
/// text names nothing recognisable).
fn device_rejection(error: &Error) -> Option<Option<DeviceSignatureRejection>> {
    match error {
        Error::Http {
            body: Some(body), ..
        } if body.code() == Some(CODE_INVALID_DEVICE_SIGNATURE) => Some(
            body.text_message()
                .and_then(DeviceSignatureRejection::classify),
        ),
        _ => None,
    }
}

/// `x-dyn-session-public-key` for a request about a session bound to `key` (revoke).
pub(crate) fn session_key_header(key: Option<&SessionKey>) -> Vec<(&'static str, String)> {
    key.map(|key| (X_DYN_SESSION_PUBLIC_KEY, key.public_key.clone()))
        .into_iter()
        .collect()
}

/// Checks that Dynamic bound the token to the session key that was sent: its
/// `session_public_key` claim must equal `expected` (contract §4.7). Call after the token's
/// signature was verified.
pub(crate) fn check_bound(token: &str, expected: Option<&str>) -> Result<(), Error> {
    let Some(expected) = expected else {
        return Ok(());
    };
    #[derive(Deserialize)]
    struct Claims {
        session_public_key: Option<String>,
    }
    let claimed = token
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()
        })
        .and_then(|payload| serde_json::from_slice::<Claims>(&payload).ok())
        .and_then(|claims| claims.session_public_key);
    if claimed.is_some_and(|claimed| claimed.eq_ignore_ascii_case(expected)) {
        Ok(())
    } else {
        Err(Error::SessionKeyMismatch)
    }
}

fn key_unavailable(error: KeySignerError) -> Error {
    Error::KeySigner(error)
}

/// Runs a (possibly blocking) signer call off the async worker.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, KeySignerError> + Send + 'static,
) -> Result<T, KeySignerError> {
    tokio::task::spawn_blocking(call).await.unwrap_or_else(|_| {
        Err(KeySignerError::Failed {
            detail: "the key signer panicked".into(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DeviceSignatureReason;
    use dynamic_byoa_contract::ApiErrorBody;

    fn token(claims: serde_json::Value) -> String {
        let encode =
            |v: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.as_bytes());
        format!("{}.{}.sig", encode("{}".into()), encode(claims.to_string()))
    }

    #[test]
    fn the_token_must_carry_the_session_key_that_was_sent() {
        let key = format!("02{}", "ab".repeat(32));
        let bound = token(serde_json::json!({"session_public_key": key}));
        assert!(check_bound(&bound, Some(&key)).is_ok());
        assert!(check_bound(&bound, None).is_ok());
        let other = format!("03{}", "ab".repeat(32));
        let unbound = token(serde_json::json!({"sub": "u"}));
        for (token, expected) in [(&bound, &other), (&unbound, &key)] {
            let error = ByoaError::from(check_bound(token, Some(expected)).unwrap_err());
            assert_eq!(error.code_str(), "session_key_mismatch");
        }
    }

    #[test]
    fn a_missing_headers_refusal_after_a_failed_proof_says_why() {
        let binding = Binding::new(None, true, "e");
        let refusal = || Error::Http {
            status: 422,
            body: Some(Box::new(ApiErrorBody::coded(
                DeviceSignatureRejection::MissingHeaders.message(),
                CODE_INVALID_DEVICE_SIGNATURE,
            ))),
            retry_after_seconds: None,
            environment_id: "e".into(),
        };
        let failed = DeviceProof {
            headers: Vec::new(),
            unavailable: Some("no nonce: rate limited".into()),
        };
        let explained = ByoaError::from(binding.explain(refusal(), &failed));
        assert_eq!(explained.code_str(), "device_nonce_unavailable");
        let none = DeviceProof {
            headers: Vec::new(),
            unavailable: None,
        };
        let plain = ByoaError::from(binding.explain(refusal(), &none));
        assert_eq!(
            plain,
            ByoaError::DeviceSignatureRejected {
                reason: DeviceSignatureReason::MissingHeaders,
                server_detail: DeviceSignatureRejection::MissingHeaders.message().into(),
            }
        );
    }
}
