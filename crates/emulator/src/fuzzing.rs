//! Entry point for the emulator's fuzz target (`fuzz/`) and the corpus replay
//! (`tests/fuzz_corpus.rs`): what `byoa check` and sign-in run on user input. Hidden, not API.

use std::time::Duration;

use crate::jwks_cache::{parse_jwks, pick};
use crate::verify::{ExternalJwtPolicy, ParsedJwt, claim_problems, subject};

const ISSUER: &str = "https://issuer.example/";
const NOW: i64 = 1_800_000_000;

/// External JWT verification against a JWKS from the same bytes: `data` is the JWKS body NUL
/// the JWT. A token that passes has a signature under a published key, this issuer, a subject
/// and an unexpired `exp`; every refusal's message is free of the token.
pub fn external_jwt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (jwks, jwt) = text.split_once('\0').unwrap_or(("", &text));
    let keys = parse_jwks(jwks.as_bytes()).unwrap_or_default();
    let policy = ExternalJwtPolicy {
        issuer: ISSUER.into(),
        jwks_url: "https://issuer.example/jwks".into(),
        audience: None,
        leeway: Duration::from_secs(30),
    };
    let parsed = match ParsedJwt::parse(jwt) {
        Ok(parsed) => parsed,
        Err(rejection) => return assert_no_token(&rejection.message(), jwt),
    };
    let signed = parsed.algorithm().and_then(|alg| {
        let jwk = pick(&keys, parsed.kid()).ok_or_else(|| {
            crate::verify::Rejection::new(
                dynamic_byoa_contract::ExternalAuthRejection::UnknownKey,
                "no such key",
            )
        })?;
        parsed.verify_signature(alg, &jwk)
    });
    let problems = claim_problems(&parsed.claims, &policy, NOW);
    for problem in signed.as_ref().err().into_iter().chain(&problems) {
        assert_no_token(&problem.message(), jwt);
    }
    if signed.is_ok() && problems.is_empty() {
        assert!(subject(&parsed.claims).is_some(), "accepted without sub");
        assert_eq!(parsed.claims["iss"].as_str(), Some(ISSUER));
        let exp = parsed.claims["exp"].as_f64().expect("a numeric exp");
        assert!(exp as i64 + 30 > NOW, "accepted an expired token");
    }
}

/// No long base64url segment of `jwt` appears in `message`. Only base64url segments count: a
/// "segment" with spaces cannot be a token's, and can be a refusal's own words (the fuzzer
/// built a token whose middle read `JWT is malformed: header is not base64url`).
fn assert_no_token(message: &str, jwt: &str) {
    let base64url = |p: &&str| {
        p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    for part in jwt
        .trim()
        .split('.')
        .filter(|p| p.len() >= 24)
        .filter(base64url)
    {
        assert!(
            !message.contains(part),
            "a refusal quotes the token: {message}"
        );
    }
}
