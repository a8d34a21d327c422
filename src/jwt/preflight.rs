//! Preflight: decode the external JWT on the device and refuse, with a typed reason, what Dynamic
//! would certainly refuse, before any network call.
//!
//! There is no signature check here: the device has no trust anchor for the app's provider (the
//! JWKS is configured in Dynamic's dashboard, not in the app), so only Dynamic can verify it. The
//! preflight catches what can be known without trust: shape, size, algorithm family, required
//! claims and their types, time window, and `sub` = `externalUserId`.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use dynamic_byoa_contract::claims::claim;
use serde_json::{Map, Value};

pub use crate::error::PreflightError;

/// Largest external JWT accepted, in bytes. Provider JWTs are 1-2 KiB; anything near this limit
/// is a mistake (an ID token with embedded pictures, a wrong variable).
pub const MAX_JWT_BYTES: usize = 16 * 1024;
/// Default tolerance for clock differences on `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;

/// Algorithms whose signatures Dynamic verifies against a JWKS: RS*, PS*, ES*, EdDSA.
/// Symmetric (HS*) algorithms cannot be verified with a public key set, `none` never.
/// ES512 is accepted here although the emulator cannot verify it: refusing on the device what
/// Dynamic might accept would be worse than letting Dynamic decide.
pub const ASYMMETRIC_ALGORITHMS: [&str; 10] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

/// base64url without padding (RFC 7515 §2): Dynamic, like every JOSE library, refuses padded
/// segments, so the device must too.
pub(crate) const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// What the preflight learned from a JWT that passed. No signature was checked.
#[derive(Clone, PartialEq)]
pub struct DecodedJwt {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

impl std::fmt::Debug for DecodedJwt {
    // Claims are not secret, but the whole set is long; the signature is never kept.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedJwt")
            .field("alg", &self.header.get("alg"))
            .field("kid", &self.header.get("kid"))
            .field("iss", &self.claims.get(claim::ISS))
            .field("sub", &self.claims.get(claim::SUB))
            .finish_non_exhaustive()
    }
}

impl DecodedJwt {
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// Inputs of a preflight check besides the token itself.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The app's user id, which must equal `sub`; `None` skips that check.
    pub external_user_id: Option<&'a str>,
    /// Current unix time in seconds.
    pub now: i64,
    pub leeway_seconds: u64,
}

/// The first problem with `jwt`, or what it decodes to.
pub fn check(jwt: &str, expect: Expectations<'_>) -> Result<DecodedJwt, PreflightError> {
    let (decoded, problems) = diagnose(jwt, expect);
    match (decoded, problems.into_iter().next()) {
        (_, Some(problem)) => Err(problem),
        (Some(decoded), None) => Ok(decoded),
        (None, None) => Err(PreflightError::Empty),
    }
}

/// [`check`] for a step-up assertion (contract §4.9): besides what sign-in requires, `scope`
/// (what the elevated token will allow) and `jti` (Dynamic accepts each assertion once) must be
/// non-empty strings.
pub fn check_assertion(jwt: &str, expect: Expectations<'_>) -> Result<DecodedJwt, PreflightError> {
    let decoded = check(jwt, expect)?;
    required_string(&decoded.claims, claim::SCOPE)?;
    required_string(&decoded.claims, claim::JTI)?;
    Ok(decoded)
}

/// Every problem with `jwt` that can be told apart without a signature check, in the order a
/// developer should fix them. Structural problems stop the diagnosis (nothing else is readable);
/// claim problems are all reported. `byoa check` prints this list.
pub fn diagnose(jwt: &str, expect: Expectations<'_>) -> (Option<DecodedJwt>, Vec<PreflightError>) {
    let decoded = match decode(jwt) {
        Ok(decoded) => decoded,
        Err(problem) => return (None, vec![problem]),
    };
    let mut problems = Vec::new();
    if let Err(problem) = check_algorithm(&decoded.header) {
        problems.push(problem);
    }
    problems.extend(check_claims(&decoded.claims, expect));
    (Some(decoded), problems)
}

/// Checks a `sessionPublicKey`: compressed P-256, lowercase hex, 33 bytes (contract §1.1).
pub fn check_session_public_key(key: &str) -> Result<(), PreflightError> {
    if dynamic_byoa_contract::is_session_public_key(key) {
        Ok(())
    } else {
        Err(PreflightError::InvalidSessionPublicKey)
    }
}

fn decode(jwt: &str) -> Result<DecodedJwt, PreflightError> {
    if jwt.is_empty() {
        return Err(PreflightError::Empty);
    }
    if jwt.len() > MAX_JWT_BYTES {
        return Err(PreflightError::TooLarge {
            size: jwt.len(),
            limit: MAX_JWT_BYTES,
        });
    }
    let segments: Vec<&str> = jwt.split('.').collect();
    if segments.len() != 3 {
        return Err(PreflightError::Malformed {
            detail: format!("found {} segment(s)", segments.len()),
        });
    }
    let names = ["header", "payload", "signature"];
    let mut bytes = Vec::with_capacity(3);
    for (segment, name) in segments.iter().zip(names) {
        if segment.is_empty() {
            return Err(PreflightError::Malformed {
                detail: format!("the {name} segment is empty"),
            });
        }
        let decoded = BASE64URL
            .decode(segment)
            .map_err(|_| PreflightError::Malformed {
                detail: if segment.ends_with('=') {
                    format!("the {name} segment is padded with '='; JWTs use unpadded base64url")
                } else {
                    format!("the {name} segment is not base64url")
                },
            })?;
        bytes.push(decoded);
    }
    Ok(DecodedJwt {
        header: json_object(&bytes[0], "header")?,
        claims: json_object(&bytes[1], "payload")?,
    })
}

fn json_object(bytes: &[u8], segment: &'static str) -> Result<Map<String, Value>, PreflightError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(PreflightError::NotJson { segment }),
    }
}

fn check_algorithm(header: &Map<String, Value>) -> Result<(), PreflightError> {
    match header.get("alg") {
        Some(Value::String(alg)) if ASYMMETRIC_ALGORITHMS.contains(&alg.as_str()) => Ok(()),
        Some(Value::String(alg)) => Err(PreflightError::UnsupportedAlgorithm {
            alg: Some(alg.clone()),
        }),
        Some(other) => Err(PreflightError::UnsupportedAlgorithm {
            alg: Some(other.to_string()),
        }),
        None => Err(PreflightError::UnsupportedAlgorithm { alg: None }),
    }
}

fn check_claims(claims: &Map<String, Value>, expect: Expectations<'_>) -> Vec<PreflightError> {
    let mut problems = Vec::new();
    let mut record = |result: Result<(), PreflightError>| {
        if let Err(problem) = result {
            problems.push(problem);
        }
    };
    record(required_string(claims, claim::ISS).map(drop));
    let sub = required_string(claims, claim::SUB);
    record(sub.clone().map(drop));
    record(check_time_window(claims, expect));
    if let (Ok(sub), Some(external_user_id)) = (sub, expect.external_user_id)
        && sub != external_user_id
    {
        record(Err(PreflightError::SubjectMismatch {
            sub: sub.to_owned(),
            external_user_id: external_user_id.to_owned(),
        }));
    }
    problems
}

fn check_time_window(
    claims: &Map<String, Value>,
    expect: Expectations<'_>,
) -> Result<(), PreflightError> {
    let leeway = expect.leeway_seconds as i64;
    let exp = numeric_date(claims, claim::EXP)?
        .ok_or(PreflightError::MissingClaim { claim: claim::EXP })?;
    if expect.now >= exp.saturating_add(leeway) {
        return Err(PreflightError::Expired {
            exp,
            now: expect.now,
            leeway: expect.leeway_seconds,
        });
    }
    for name in [claim::NBF, claim::IAT] {
        if let Some(at) = numeric_date(claims, name)?
            && at > expect.now.saturating_add(leeway)
        {
            return Err(PreflightError::NotYetValid {
                claim: name,
                at,
                now: expect.now,
                leeway: expect.leeway_seconds,
            });
        }
    }
    Ok(())
}

fn required_string<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, PreflightError> {
    match claims.get(name) {
        None | Some(Value::Null) => Err(PreflightError::MissingClaim { claim: name }),
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        Some(_) => Err(PreflightError::InvalidClaim {
            claim: name,
            expected: "a non-empty string",
        }),
    }
}

/// A NumericDate claim (RFC 7519: seconds, possibly fractional), floored to whole seconds.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, PreflightError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_i64()
            .or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(PreflightError::InvalidClaim {
                claim: name,
                expected: "a number of seconds",
            }),
        Some(_) => Err(PreflightError::InvalidClaim {
            claim: name,
            expected: "a number of seconds",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ByoaError;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn expect(user: Option<&str>) -> Expectations<'_> {
        Expectations {
            external_user_id: user,
            now: NOW,
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
        }
    }

    fn segment(value: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn jwt(header: Value, claims: Value) -> String {
        format!("{}.{}.c2lnbmF0dXJl", segment(&header), segment(&claims))
    }

    fn good_claims() -> Value {
        json!({"iss": "https://issuer.example", "sub": "user-1", "exp": NOW + 600, "iat": NOW})
    }

    fn es256() -> Value {
        json!({"alg": "ES256", "kid": "k1", "typ": "JWT"})
    }

    fn first_problem(token: &str, user: Option<&str>) -> PreflightError {
        check(token, expect(user)).unwrap_err()
    }

    #[test]
    fn a_well_formed_token_passes_and_exposes_its_claims() {
        let decoded = check(&jwt(es256(), good_claims()), expect(Some("user-1"))).unwrap();
        assert_eq!(decoded.str_claim("sub"), Some("user-1"));
    }

    #[test]
    fn empty_input_is_its_own_error() {
        assert_eq!(first_problem("", None), PreflightError::Empty);
    }

    #[test]
    fn more_than_16_kib_is_too_large() {
        let big = "a".repeat(MAX_JWT_BYTES + 1);
        assert_eq!(
            first_problem(&big, None),
            PreflightError::TooLarge {
                size: MAX_JWT_BYTES + 1,
                limit: MAX_JWT_BYTES
            }
        );
    }

    #[test]
    fn anything_but_three_base64url_segments_is_malformed() {
        for token in ["abc", "a.b", "a.b.c.d", "a..c", "a$.b.c"] {
            assert!(
                matches!(first_problem(token, None), PreflightError::Malformed { .. }),
                "{token}"
            );
        }
    }

    #[test]
    fn padded_segments_are_malformed_as_dynamic_refuses_them() {
        let padded = base64::engine::general_purpose::URL_SAFE.encode(es256().to_string());
        assert!(padded.ends_with('='), "this header needs padding: {padded}");
        let token = format!("{padded}.{}.c2lnbmF0dXJl", segment(&good_claims()));
        assert!(matches!(
            first_problem(&token, None),
            PreflightError::Malformed { detail } if detail.contains("padded")
        ));
    }

    #[test]
    fn a_header_or_payload_that_is_not_a_json_object_is_named() {
        let not_json = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("not json");
        let array = segment(&json!([1, 2]));
        let good = segment(&good_claims());
        assert_eq!(
            first_problem(&format!("{not_json}.{good}.c2ln"), None),
            PreflightError::NotJson { segment: "header" }
        );
        assert_eq!(
            first_problem(&format!("{}.{array}.c2ln", segment(&es256())), None),
            PreflightError::NotJson { segment: "payload" }
        );
    }

    #[test]
    fn missing_none_and_symmetric_algorithms_are_refused() {
        for (header, alg) in [
            (json!({"typ": "JWT"}), None),
            (json!({"alg": "none"}), Some("none")),
            (json!({"alg": "HS256"}), Some("HS256")),
        ] {
            assert_eq!(
                first_problem(&jwt(header, good_claims()), None),
                PreflightError::UnsupportedAlgorithm {
                    alg: alg.map(str::to_owned)
                }
            );
        }
        for alg in ASYMMETRIC_ALGORITHMS {
            assert!(
                check(&jwt(json!({"alg": alg}), good_claims()), expect(None)).is_ok(),
                "{alg}"
            );
        }
    }

    /// Found by the external_jwt fuzz target: the header's `alg` reached the error text as it
    /// was, control characters and token-shaped runs included.
    #[test]
    fn an_unsupported_algorithm_is_named_redacted() {
        let long = "eyJ".to_owned() + &"a".repeat(60);
        for (alg, shown) in [
            ("E\r56", "E 56"),
            (long.as_str(), crate::support::redact::REDACTED),
        ] {
            let error = ByoaError::from(first_problem(
                &jwt(json!({"alg": alg}), good_claims()),
                None,
            ));
            let ByoaError::UnsupportedAlgorithm { alg: named } = &error else {
                panic!("{error:?}");
            };
            assert!(named.contains(shown), "{named:?}");
            assert!(!error.to_string().contains(alg), "{error}");
        }
    }

    #[test]
    fn required_claims_must_be_present_and_typed() {
        for name in ["iss", "sub", "exp"] {
            let mut claims = good_claims();
            claims.as_object_mut().unwrap().remove(name);
            assert_eq!(
                first_problem(&jwt(es256(), claims), None),
                PreflightError::MissingClaim { claim: name }
            );
        }
        let wrong = json!({"iss": 7, "sub": "u", "exp": NOW + 60});
        assert!(matches!(
            first_problem(&jwt(es256(), wrong), None),
            PreflightError::InvalidClaim { claim: "iss", .. }
        ));
        let wrong_exp = json!({"iss": "i", "sub": "u", "exp": "tomorrow"});
        assert!(matches!(
            first_problem(&jwt(es256(), wrong_exp), None),
            PreflightError::InvalidClaim { claim: "exp", .. }
        ));
    }

    #[test]
    fn an_expired_token_is_refused_only_beyond_the_leeway() {
        let just_expired = json!({"iss": "i", "sub": "u", "exp": NOW - 30});
        assert!(check(&jwt(es256(), just_expired), expect(None)).is_ok());
        let expired = json!({"iss": "i", "sub": "u", "exp": NOW - 61});
        assert_eq!(
            first_problem(&jwt(es256(), expired), None),
            PreflightError::Expired {
                exp: NOW - 61,
                now: NOW,
                leeway: 60
            }
        );
    }

    #[test]
    fn nbf_or_iat_in_the_future_beyond_the_leeway_is_refused() {
        for name in ["nbf", "iat"] {
            let mut claims = good_claims();
            claims[name] = json!(NOW + 3600);
            assert!(matches!(
                first_problem(&jwt(es256(), claims), None),
                PreflightError::NotYetValid { claim, at, .. } if claim == name && at == NOW + 3600
            ));
        }
        let mut slightly_ahead = good_claims();
        slightly_ahead["iat"] = json!(NOW + 30);
        assert!(check(&jwt(es256(), slightly_ahead), expect(None)).is_ok());
    }

    #[test]
    fn sub_must_equal_the_external_user_id() {
        assert_eq!(
            first_problem(&jwt(es256(), good_claims()), Some("someone-else")),
            PreflightError::SubjectMismatch {
                sub: "user-1".into(),
                external_user_id: "someone-else".into()
            }
        );
    }

    #[test]
    fn a_step_up_assertion_also_needs_scope_and_jti() {
        let mut claims = good_claims();
        claims["scope"] = json!("wallet:export");
        claims["jti"] = json!("a-1");
        let es = es256();
        assert!(check_assertion(&jwt(es.clone(), claims.clone()), expect(Some("user-1"))).is_ok());
        for name in ["scope", "jti"] {
            let mut partial = claims.clone();
            partial.as_object_mut().unwrap().remove(name);
            assert!(matches!(
                check_assertion(&jwt(es.clone(), partial), expect(Some("user-1"))),
                Err(PreflightError::MissingClaim { claim }) if claim == name
            ));
        }
        let mut empty_scope = claims.clone();
        empty_scope["scope"] = json!("");
        assert!(matches!(
            check_assertion(&jwt(es, empty_scope), expect(Some("user-1"))),
            Err(PreflightError::InvalidClaim { claim: "scope", .. })
        ));
    }

    #[test]
    fn diagnose_reports_every_claim_problem_at_once() {
        let claims = json!({"exp": NOW - 3600, "sub": "a"});
        let (_, problems) = diagnose(&jwt(json!({"alg": "HS256"}), claims), expect(Some("b")));
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn session_public_keys_must_be_compressed_p256_hex() {
        let good = format!("02{}", "ab".repeat(32));
        assert!(check_session_public_key(&good).is_ok());
        for bad in [
            format!("04{}", "ab".repeat(32)),
            format!("02{}", "AB".repeat(32)),
            "02abc".to_owned(),
            format!("03{}", "zz".repeat(32)),
        ] {
            assert_eq!(
                check_session_public_key(&bad),
                Err(PreflightError::InvalidSessionPublicKey)
            );
        }
    }
}
