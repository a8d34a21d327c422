//! The emulator's own RS256 signing key (Dynamic signs session JWTs with RS256, contract §4.6)
//! and the JWKS that publishes it.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dynamic_byoa_contract::{JwksKey, JwksResponse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::rngs::OsRng;
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::EmulatorError;
use crate::ids::random_hex;

const RSA_BITS: usize = 2048;

/// An RSA-2048 private key with its key id. Cheap to clone (shared), so one generated key can be
/// reused by many emulators, e.g. from a `OnceLock` in tests.
#[derive(Clone)]
pub struct SigningKey {
    inner: Arc<Inner>,
}

struct Inner {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Public modulus and exponent, base64url without padding, as a JWK carries them.
    n: String,
    e: String,
}

impl std::fmt::Debug for SigningKey {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.inner.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh RSA-2048 key with a random kid. Slow-ish (CPU-bound, up to a second or
    /// two), so call it off the async executor or once per process.
    pub fn generate() -> Self {
        let key = RsaPrivateKey::new(&mut OsRng, RSA_BITS).expect("RSA-2048 key generation");
        Self::from_rsa(&key, random_hex(8)).expect("a freshly generated key encodes")
    }

    /// Wraps an existing PKCS#1 DER RSA private key.
    pub fn from_pkcs1_der(der: &[u8], kid: impl Into<String>) -> Result<Self, EmulatorError> {
        let key = RsaPrivateKey::from_pkcs1_der(der)
            .map_err(|e| EmulatorError::Key(format!("not a PKCS#1 RSA private key: {e}")))?;
        Self::from_rsa(&key, kid.into())
    }

    fn from_rsa(key: &RsaPrivateKey, kid: String) -> Result<Self, EmulatorError> {
        let der = key
            .to_pkcs1_der()
            .map_err(|e| EmulatorError::Key(format!("cannot encode the RSA key: {e}")))?;
        let public = key.to_public_key();
        let (n, e) = (public.n().to_bytes_be(), public.e().to_bytes_be());
        Ok(Self {
            inner: Arc::new(Inner {
                kid,
                encoding: EncodingKey::from_rsa_der(der.as_bytes()),
                decoding: DecodingKey::from_rsa_raw_components(&n, &e),
                n: URL_SAFE_NO_PAD.encode(&n),
                e: URL_SAFE_NO_PAD.encode(&e),
            }),
        })
    }

    pub fn kid(&self) -> &str {
        &self.inner.kid
    }

    /// The public half as a JWKS entry (`kty` RSA, `alg` RS256, `use` sig).
    pub fn jwks_key(&self) -> JwksKey {
        JwksKey {
            kid: Some(self.inner.kid.clone()),
            alg: Some("RS256".to_owned()),
            kty: Some("RSA".to_owned()),
            use_: Some("sig".to_owned()),
            e: Some(self.inner.e.clone()),
            n: Some(self.inner.n.clone()),
        }
    }

    pub fn jwks(&self) -> JwksResponse {
        JwksResponse {
            keys: vec![self.jwks_key()],
        }
    }

    /// Signs `claims` as an RS256 JWT whose header carries this key's kid. Public so tests can
    /// mint session tokens the emulator would issue (e.g. already expired ones).
    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.inner.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.inner.encoding)
            .expect("RS256 signing with a valid key and serialisable claims")
    }

    /// Verifies a token this key signed: RS256 only, `exp` required and checked with `leeway`
    /// against `now` (unix seconds on the emulator's clock, which tests may move). `aud` is not
    /// checked here because it is the caller's origin, which varies.
    pub(crate) fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        leeway: Duration,
        now: i64,
    ) -> Result<T, jsonwebtoken::errors::Error> {
        use jsonwebtoken::errors::ErrorKind;
        let mut validation = Validation::new(Algorithm::RS256);
        // `exp` stays required, but is compared with the emulator's clock below, not the host's.
        validation.validate_exp = false;
        validation.validate_aud = false;
        let claims: serde_json::Value =
            jsonwebtoken::decode(token, &self.inner.decoding, &validation)?.claims;
        let exp = claims
            .get("exp")
            .and_then(serde_json::Value::as_i64)
            .ok_or(ErrorKind::MissingRequiredClaim("exp".into()))?;
        if exp < now - leeway.as_secs() as i64 {
            return Err(ErrorKind::ExpiredSignature.into());
        }
        serde_json::from_value(claims).map_err(|e| ErrorKind::Json(std::sync::Arc::new(e)).into())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jsonwebtoken::errors::ErrorKind;
    use serde_json::{Value, json};
    use std::sync::OnceLock;

    /// One key for every unit test in the crate: generation is the slow part.
    pub(crate) fn shared_key() -> SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(SigningKey::generate).clone()
    }

    fn now() -> i64 {
        jsonwebtoken::get_current_timestamp() as i64
    }

    #[test]
    fn signed_tokens_verify_and_carry_the_kid_in_the_header() {
        let key = shared_key();
        let token = key.sign(&json!({"sub": "u", "exp": now() + 60}));
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        let claims: Value = key.verify(&token, Duration::ZERO, now()).unwrap();
        assert_eq!(claims["sub"], "u");
    }

    #[test]
    fn expired_tokens_fail_beyond_the_leeway_only() {
        let key = shared_key();
        let token = key.sign(&json!({"sub": "u", "exp": now() - 100}));
        let err = key
            .verify::<Value>(&token, Duration::from_secs(10), now())
            .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::ExpiredSignature));
        assert!(
            key.verify::<Value>(&token, Duration::from_secs(1000), now())
                .is_ok()
        );
    }

    #[test]
    fn expiry_is_judged_on_the_given_clock_not_the_hosts() {
        let key = shared_key();
        let token = key.sign(&json!({"sub": "u", "exp": now() + 60}));
        assert!(key.verify::<Value>(&token, Duration::ZERO, now()).is_ok());
        let err = key
            .verify::<Value>(&token, Duration::ZERO, now() + 3600)
            .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::ExpiredSignature));
    }

    #[test]
    fn jwks_key_verifies_tokens_signed_by_the_key() {
        let key = shared_key();
        let jwk = key.jwks_key();
        assert_eq!(jwk.kty.as_deref(), Some("RSA"));
        assert_eq!(jwk.alg.as_deref(), Some("RS256"));
        assert_eq!(jwk.use_.as_deref(), Some("sig"));
        let decoding =
            DecodingKey::from_rsa_components(jwk.n.as_deref().unwrap(), jwk.e.as_deref().unwrap())
                .unwrap();
        let token = key.sign(&json!({"exp": now() + 60}));
        let validation = Validation::new(Algorithm::RS256);
        assert!(jsonwebtoken::decode::<Value>(&token, &decoding, &validation).is_ok());
    }

    #[test]
    fn a_different_key_does_not_verify() {
        let key = shared_key();
        let der = RsaPrivateKey::new(&mut OsRng, 1024)
            .unwrap()
            .to_pkcs1_der()
            .unwrap();
        let other = SigningKey::from_pkcs1_der(der.as_bytes(), key.kid()).unwrap();
        let token = other.sign(&json!({"exp": now() + 60}));
        assert!(key.verify::<Value>(&token, Duration::ZERO, now()).is_err());
    }

    #[test]
    fn debug_output_has_no_key_material() {
        let printed = format!("{:?}", shared_key());
        assert!(printed.contains("kid"));
        assert!(!printed.contains(&shared_key().jwks_key().n.unwrap()[..16]));
    }
}
