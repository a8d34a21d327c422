//! Device signatures on `externalAuth/signin` and `refresh` (contract §4.10): the three
//! `x-dynamic-device-*` headers prove possession of a device key over a one-time nonce this
//! environment issued.
//!
//! With `require_device_signature` set, a request without valid headers is refused. Without it,
//! headers that are present are still verified (a bad signature is refused) and their absence is
//! ignored. A refused request always carries the contract's error shape (see
//! `dynamic_byoa_contract::device`).

use axum::http::HeaderMap;
use dynamic_byoa_contract::headers::{
    X_DYNAMIC_DEVICE_NONCE, X_DYNAMIC_DEVICE_PUBLICKEY, X_DYNAMIC_DEVICE_SIGNED_NONCE,
};
use dynamic_byoa_contract::{DeviceSignatureRejection, device::decode_hex};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};

use crate::nonces::NonceBook;

/// The device headers of one request, as sent.
pub(crate) struct DeviceHeaders {
    nonce: String,
    public_key: String,
    signed_nonce: String,
}

impl DeviceHeaders {
    /// `Ok(None)` when none of the three is present; all three or a `MissingHeaders` refusal
    /// otherwise (a partial set is a malformed proof, not an absent one).
    pub(crate) fn read(headers: &HeaderMap) -> Result<Option<Self>, DeviceSignatureRejection> {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        match (
            text(X_DYNAMIC_DEVICE_NONCE),
            text(X_DYNAMIC_DEVICE_PUBLICKEY),
            text(X_DYNAMIC_DEVICE_SIGNED_NONCE),
        ) {
            (None, None, None) => Ok(None),
            (Some(nonce), Some(public_key), Some(signed_nonce)) => Ok(Some(Self {
                nonce,
                public_key,
                signed_nonce,
            })),
            _ => Err(DeviceSignatureRejection::MissingHeaders),
        }
    }
}

/// Checks a request's device proof. Returns the device public key that signed (lowercase hex),
/// or `None` when no headers were sent and none are required. `bound` is the device key the
/// session was signed in with, if any: a refresh must come from the same device.
pub(crate) fn check(
    headers: &HeaderMap,
    required: bool,
    nonces: &mut NonceBook,
    now: i64,
    bound: Option<&str>,
) -> Result<Option<String>, DeviceSignatureRejection> {
    let Some(proof) = DeviceHeaders::read(headers)? else {
        return if required {
            Err(DeviceSignatureRejection::MissingHeaders)
        } else {
            Ok(None)
        };
    };
    // The nonce is spent before anything else is checked: a bad key or signature costs the
    // sender its nonce, so nothing can be tried against one nonce over and over.
    nonces.redeem(&proof.nonce, now)?;
    // Lowercase hex, compressed, on the curve: the format of §1.1, which §4.10 reuses.
    let key = Some(proof.public_key.as_str())
        .filter(|key| dynamic_byoa_contract::is_session_public_key(key))
        .and_then(decode_hex)
        .and_then(|bytes| VerifyingKey::from_sec1_bytes(&bytes).ok())
        .ok_or(DeviceSignatureRejection::InvalidPublicKey)?;
    verify(&key, &proof.nonce, &proof.signed_nonce)?;
    if bound.is_some_and(|bound| bound != proof.public_key) {
        return Err(DeviceSignatureRejection::KeyMismatch);
    }
    Ok(Some(proof.public_key))
}

/// ECDSA P-256 with SHA-256 over the nonce string's bytes; the signature is the hex of the raw
/// 64-byte r||s (WebCrypto's format, contract §4.10).
fn verify(
    key: &VerifyingKey,
    nonce: &str,
    signed_nonce: &str,
) -> Result<(), DeviceSignatureRejection> {
    let signature = decode_hex(signed_nonce)
        .filter(|bytes| bytes.len() == 64)
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or(DeviceSignatureRejection::InvalidSignature)?;
    key.verify(nonce.as_bytes(), &signature)
        .map_err(|_| DeviceSignatureRejection::InvalidSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeviceSignatureRejection as R;
    use axum::http::HeaderValue;
    use dynamic_byoa_contract::device::encode_hex;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;

    fn key() -> SigningKey {
        SigningKey::random(&mut rand::rngs::OsRng)
    }

    fn public_hex(key: &SigningKey) -> String {
        encode_hex(key.verifying_key().to_encoded_point(true).as_bytes())
    }

    fn headers(nonce: &str, public_key: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            (X_DYNAMIC_DEVICE_NONCE, nonce),
            (X_DYNAMIC_DEVICE_PUBLICKEY, public_key),
            (X_DYNAMIC_DEVICE_SIGNED_NONCE, signature),
        ] {
            headers.insert(name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn signed(key: &SigningKey, nonce: &str) -> HeaderMap {
        let signature: Signature = key.sign(nonce.as_bytes());
        headers(nonce, &public_hex(key), &encode_hex(&signature.to_bytes()))
    }

    #[test]
    fn a_valid_proof_is_accepted_once_and_names_its_key() {
        let (device, mut book) = (key(), NonceBook::default());
        let nonce = book.issue(1, 100).pop().unwrap();
        let proof = signed(&device, &nonce);
        assert_eq!(
            check(&proof, true, &mut book, 10, None),
            Ok(Some(public_hex(&device)))
        );
        assert_eq!(
            check(&proof, true, &mut book, 10, None),
            Err(R::ReusedNonce)
        );
    }

    #[test]
    fn absence_is_refused_only_when_required_and_partial_headers_always() {
        let mut book = NonceBook::default();
        assert_eq!(
            check(&HeaderMap::new(), false, &mut book, 0, None),
            Ok(None)
        );
        assert_eq!(
            check(&HeaderMap::new(), true, &mut book, 0, None),
            Err(R::MissingHeaders)
        );
        let mut partial = HeaderMap::new();
        partial.insert(X_DYNAMIC_DEVICE_NONCE, HeaderValue::from_static("abc"));
        assert_eq!(
            check(&partial, false, &mut book, 0, None),
            Err(R::MissingHeaders)
        );
    }

    #[test]
    fn a_signature_by_another_key_or_tampered_does_not_verify() {
        let (device, other, mut book) = (key(), key(), NonceBook::default());
        let nonces = book.issue(3, 100);
        let signature: Signature = other.sign(nonces[0].as_bytes());
        let wrong_key = headers(
            &nonces[0],
            &public_hex(&device),
            &encode_hex(&signature.to_bytes()),
        );
        assert_eq!(
            check(&wrong_key, false, &mut book, 0, None),
            Err(R::InvalidSignature)
        );
        let honest: Signature = device.sign(nonces[1].as_bytes());
        let mut bytes = honest.to_bytes().to_vec();
        bytes[10] ^= 1;
        let tampered = headers(&nonces[1], &public_hex(&device), &encode_hex(&bytes));
        assert_eq!(
            check(&tampered, false, &mut book, 0, None),
            Err(R::InvalidSignature)
        );
        let bad_key = headers(&nonces[2], "04abcd", "00");
        assert_eq!(
            check(&bad_key, false, &mut book, 0, None),
            Err(R::InvalidPublicKey)
        );
    }

    #[test]
    fn a_refresh_must_come_from_the_device_that_signed_in() {
        let (device, other, mut book) = (key(), key(), NonceBook::default());
        let nonce = book.issue(1, 100).pop().unwrap();
        let bound = public_hex(&device);
        assert_eq!(
            check(&signed(&other, &nonce), false, &mut book, 0, Some(&bound)),
            Err(R::KeyMismatch)
        );
    }
}
