//! Entry points for the fuzz targets (`fuzz/`) and for the test that replays their corpora on
//! stable Rust (`tests/fuzz_corpus.rs`). Not part of the API: hidden, and free to change.
//!
//! Each function takes arbitrary bytes, runs one parser the network or the disk can reach, and
//! asserts more than "no panic" where it can: what is accepted has what acceptance promises,
//! what decodes re-encodes to the same thing, and no error text carries a token-shaped run.
//!
//! May import: anything (nothing imports it).

use dynamic_byoa_contract::{ApiErrorBody, JwksResponse, VerifyResponse};

use std::sync::Arc;

use crate::config::{ClientConfig, Settings};
use crate::device::keys::SoftwareKeySigner;
use crate::error::{ByoaError, Error};
use crate::jwt::preflight::{self, Expectations};
use crate::network;
use crate::ports::http::{HttpHeader, HttpResponse};
use crate::ports::key_signer::{KeySigner, KeySignerError};
use crate::ports::storage::{MemoryStorage, SessionStorage};
use crate::session::record::StoredSession;
use crate::support::redact::scrub;

const ENV: &str = "2762a57b-faa4-41ce-9f16-abff9300e2c9";
const URL: &str = "https://app.dynamicauth.com/api/v0/sdk/e/externalAuth/signin";

/// An error's texts are already what the redaction point makes of them: scrubbing them again
/// redacts nothing (it may only shorten a long text).
fn assert_scrubbed(error: &ByoaError) {
    for text in [error.to_string(), format!("{error:?}")] {
        let again = scrub(&text);
        let kept = again.strip_suffix('…').unwrap_or(&again);
        assert!(
            text.starts_with(kept),
            "an error text carries a token-shaped run: {text:?}"
        );
    }
}

/// `jwt` NUL `externalUserId`, the input of the preflight targets.
fn jwt_and_user(text: &str) -> (&str, &str) {
    let (jwt, user) = text.split_once('\0').unwrap_or((text, "user-1"));
    (jwt.trim(), user)
}

fn expecting(user: &str) -> Expectations<'_> {
    Expectations {
        external_user_id: Some(user),
        now: 1_800_000_000,
        leeway_seconds: 60,
    }
}

/// The device preflight of an external JWT: `data` is `jwt` NUL `externalUserId`.
pub fn external_jwt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (jwt, user) = jwt_and_user(&text);
    match preflight::check(jwt, expecting(user)) {
        Ok(decoded) => {
            for claim in ["iss", "sub", "exp"] {
                assert!(
                    decoded.claims.contains_key(claim),
                    "accepted without {claim}"
                );
            }
            assert_eq!(decoded.claims["sub"].as_str(), Some(user));
        }
        Err(problem) => assert_scrubbed(&Error::Preflight(problem).into()),
    }
}

/// The stored session record, as any bytes a damaged keychain could hold.
pub fn stored_record(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(decoded) = StoredSession::decode(text) {
        let encoded = decoded.record.encode();
        let again = StoredSession::decode(&encoded).expect("a record re-encodes decodably");
        assert_eq!(again.upgraded_from, None, "a re-encoded record is current");
        assert_eq!(
            again.record.encode(),
            encoded,
            "decode ∘ encode is not the identity"
        );
    }
}

/// A platform `KeySigner`'s signature, raw or DER.
pub fn der_signature(data: &[u8]) {
    if let Some(raw) = crate::device::keys::der_to_raw(data) {
        assert!(
            data.len() <= 72,
            "a P-256 DER signature is at most 72 bytes"
        );
        assert_eq!(raw.len(), 64);
    }
}

/// `api_base_url` and `app_origin` as an app could pass them: `data` is base NUL origin.
pub fn client_urls(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (base, origin) = text.split_once('\0').unwrap_or((&text, ""));
    let mut config = ClientConfig::new(ENV).with_api_base_url(base);
    config.app_origin = (!origin.is_empty()).then(|| origin.to_owned());
    match Settings::try_from(config) {
        Ok(settings) => {
            // What was accepted is stable, and only ever sent over HTTPS or to loopback.
            let again = Settings::try_from(
                ClientConfig::new(ENV).with_api_base_url(&settings.api_base_url),
            )
            .expect("an accepted base URL validates again");
            assert_eq!(again.api_base_url, settings.api_base_url);
            assert!(settings.allows_url(&format!("{}/sdk", settings.api_base_url)));
        }
        Err(error) => assert_scrubbed(&error.into()),
    }
}

/// A response as a transport hands it over: `data[0..2]` the status, then the body; the headers
/// are a `Date`, a `Retry-After` and a name from the bytes.
pub fn response(data: &[u8]) {
    let (status, body) = match data {
        [a, b, body @ ..] => (i32::from(u16::from_be_bytes([*a, *b]) % 700), body),
        _ => (200, data),
    };
    let odd = String::from_utf8_lossy(body.get(..8).unwrap_or(body)).into_owned();
    let headers = vec![
        HttpHeader {
            name: "date".into(),
            value: odd.clone(),
        },
        HttpHeader {
            name: "retry-after".into(),
            value: odd.clone(),
        },
        HttpHeader {
            name: odd,
            value: "x".into(),
        },
    ];
    let response = HttpResponse {
        status,
        headers,
        body: body.to_vec(),
        url: Some(URL.into()),
    };
    let answer = match network::checked(response, URL) {
        Ok(answer) => answer,
        Err(error) => return assert_scrubbed(&error.into()),
    };
    let decoded = [
        network::decode::<VerifyResponse>(answer.clone()).map(drop),
        network::decode::<JwksResponse>(answer.clone()).map(drop),
        network::decode::<ApiErrorBody>(answer).map(drop),
    ];
    for error in decoded.into_iter().filter_map(Result::err) {
        assert_scrubbed(&error.into());
    }
}

/// The step-up assertion check: `data` is `jwt` NUL `externalUserId`. An accepted assertion has
/// what sign-in requires plus a non-empty `scope` and `jti`, and names the signed-in user.
pub fn step_up_assertion(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (jwt, user) = jwt_and_user(&text);
    match preflight::check_assertion(jwt, expecting(user)) {
        Ok(decoded) => {
            for claim in ["scope", "jti"] {
                assert!(
                    decoded.str_claim(claim).is_some_and(|v| !v.is_empty()),
                    "accepted without {claim}"
                );
            }
            assert_eq!(decoded.claims["sub"].as_str(), Some(user));
        }
        Err(problem) => assert_scrubbed(&Error::Preflight(problem).into()),
    }
}

/// Dynamic's session token checked against a key set: `data` is the JWKS JSON NUL the token.
/// Accepted only when the key set parses and the token names this environment and user.
pub fn session_token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (jwks, token) = text.split_once('\0').unwrap_or(("{\"keys\":[]}", &text));
    let Ok(keys) = serde_json::from_str::<JwksResponse>(jwks) else {
        return;
    };
    if let Err(error) = crate::jwt::jwks::check_token_text(&keys, token, ENV, "user-1") {
        assert_scrubbed(&error.into());
    }
}

/// The claims of an elevated token Dynamic returned. Accepted claims are unexpired and, where
/// named, for this environment and user.
pub fn elevated_token(data: &[u8]) {
    let token = String::from_utf8_lossy(data);
    let now = 1_800_000_000;
    match crate::jwt::step_up::read_claims(&token, ENV, "user-1", now) {
        Ok(claims) => {
            assert!(claims.exp > now, "accepted an expired elevated token");
            assert!(claims.environment_id.as_deref().is_none_or(|e| e == ENV));
            assert!(claims.sub.as_deref().is_none_or(|s| s == "user-1"));
        }
        Err(error) => assert_scrubbed(&error.into()),
    }
}

/// The software signer's key record, as any bytes from storage. A record that loads signs, and
/// the signature verifies under the public key it reports; one that does not is left in place
/// (never replaced by a new key: nothing is lost), and its error names no key material.
pub fn software_key_record(data: &[u8]) {
    use p256::ecdsa::signature::Verifier;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let storage = Arc::new(MemoryStorage::new());
    storage.set("k".into(), text.to_owned()).expect("memory");
    let signer = SoftwareKeySigner::new(storage.clone());
    match signer.get_or_create_key("k".into()) {
        Ok(public) => {
            let signature = signer
                .sign("k".into(), b"m".to_vec())
                .expect("a loaded key signs");
            let key = dynamic_byoa_contract::device::decode_hex(&public)
                .and_then(|bytes| p256::ecdsa::VerifyingKey::from_sec1_bytes(&bytes).ok())
                .expect("the reported public key decodes");
            let signature =
                p256::ecdsa::Signature::from_slice(&signature).expect("a raw P-256 signature");
            key.verify(b"m", &signature)
                .expect("the signature verifies under the reported key");
        }
        Err(error) => {
            assert!(matches!(error, KeySignerError::Failed { .. }), "{error:?}");
            assert_eq!(
                storage.get("k".into()).expect("memory").as_deref(),
                Some(text)
            );
            let detail = format!("{error:?}");
            for word in text
                .split(|c: char| !c.is_ascii_hexdigit())
                .filter(|w| w.len() >= 16)
            {
                assert!(
                    !detail.contains(word),
                    "an error shows key material: {detail}"
                );
            }
        }
    }
}
