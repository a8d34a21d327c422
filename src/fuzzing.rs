//! Entry points for the fuzz targets (`fuzz/`) and for the test that replays their corpora on
//! stable Rust (`tests/fuzz_corpus.rs`). Not part of the API: hidden, and free to change.
//!
//! Each function takes arbitrary bytes, runs one parser the network or the disk can reach, and
//! asserts more than "no panic" where it can: what is accepted has what acceptance promises,
//! what decodes re-encodes to the same thing, and no error text carries a token-shaped run.

use dynamic_byoa_contract::{ApiErrorBody, JwksResponse, VerifyResponse};

use crate::config::{ClientConfig, Settings};
use crate::error::{ByoaError, Error};
use crate::http::{HttpHeader, HttpResponse};
use crate::preflight::{self, Expectations};
use crate::redact::scrub;
use crate::storage::StoredSession;
use crate::transport;

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

/// The device preflight of an external JWT: `data` is `jwt` NUL `externalUserId`.
pub fn external_jwt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (jwt, user) = text.split_once('\0').unwrap_or((&text, "user-1"));
    let expect = Expectations {
        external_user_id: Some(user),
        now: 1_800_000_000,
        leeway_seconds: 60,
    };
    match preflight::check(jwt.trim(), expect) {
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
    if let Ok(record) = StoredSession::decode(text) {
        let encoded = record.encode();
        let again = StoredSession::decode(&encoded).expect("a record re-encodes decodably");
        assert_eq!(
            again.encode(),
            encoded,
            "decode ∘ encode is not the identity"
        );
    }
}

/// A platform `KeySigner`'s signature, raw or DER.
pub fn der_signature(data: &[u8]) {
    if let Some(raw) = crate::device_keys::der_to_raw(data) {
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
    let answer = match transport::checked(response, URL) {
        Ok(answer) => answer,
        Err(error) => return assert_scrubbed(&error.into()),
    };
    let decoded = [
        transport::decode::<VerifyResponse>(answer.clone()).map(drop),
        transport::decode::<JwksResponse>(answer.clone()).map(drop),
        transport::decode::<ApiErrorBody>(answer).map(drop),
    ];
    for error in decoded.into_iter().filter_map(Result::err) {
        assert_scrubbed(&error.into());
    }
}
