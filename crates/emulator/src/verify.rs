//! Verification of the customer's external JWT, as Dynamic documents it (contract §1.3):
//! asymmetric signature by a key of the configured JWKS (selected by `kid`), `iss` equal to the
//! configured issuer, `aud` only when configured, `exp` required and checked, `nbf` checked,
//! `sub` required. Header-supplied key locations (`jku`, `x5u`, `jwk`) are ignored: trusting
//! them would let the token choose its own verification key.
//!
//! [`verify_external_jwt`] stops at the first problem (the server's answer);
//! [`check_external_jwt`] collects every problem it can see (the CLI's diagnosis).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dynamic_byoa_contract::ExternalAuthRejection;
use dynamic_byoa_contract::claims::claim;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use crate::jwks_cache::JwksCache;
use crate::tokens::unix_now;

/// What an environment requires of external JWTs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalJwtPolicy {
    pub issuer: String,
    pub jwks_url: String,
    pub audience: Option<String>,
    /// Clock-skew allowance for `exp` and `nbf`.
    pub leeway: Duration,
}

/// Why an external JWT was refused: the contract reason plus a human detail. The detail names
/// claims and values but never contains the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: ExternalAuthRejection,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: ExternalAuthRejection, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }

    /// The `error` text of the 422: the reason's message, then ": detail" when that keeps the
    /// text classifiable as the same reason. Details quote values from the token or the
    /// configuration, which could otherwise mislead a client's
    /// [`ExternalAuthRejection::classify`] (e.g. an issuer URL containing "jwks").
    pub fn message(&self) -> String {
        let base = self.reason.message();
        if self.detail.is_empty() {
            return base.to_owned();
        }
        let full = format!("{base}: {}", self.detail);
        if ExternalAuthRejection::classify(&full) == Some(self.reason) {
            full
        } else {
            base.to_owned()
        }
    }
}

impl std::fmt::Display for Rejection {
    /// Always the full text, for people (the CLI), regardless of classification.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.detail.is_empty() {
            f.write_str(self.reason.message())
        } else {
            write!(f, "{}: {}", self.reason.message(), self.detail)
        }
    }
}

impl std::error::Error for Rejection {}

/// The accepted JWT's identity: `sub` (Dynamic's external user id) plus all claims.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedExternalJwt {
    pub sub: String,
    pub claims: Map<String, Value>,
    pub email: Option<String>,
    /// The `emailVerified` claim is literally `true`.
    pub email_verified: bool,
}

impl VerifiedExternalJwt {
    fn from_claims(sub: String, claims: Map<String, Value>) -> Self {
        let email = claims
            .get(claim::EMAIL)
            .and_then(Value::as_str)
            .filter(|email| !email.is_empty())
            .map(str::to_owned);
        let email_verified = claims.get(claim::EMAIL_VERIFIED) == Some(&Value::Bool(true));
        Self {
            sub,
            claims,
            email,
            email_verified,
        }
    }
}

/// Verifies `jwt` against `policy`; the first problem found is the error.
pub async fn verify_external_jwt(
    jwt: &str,
    policy: &ExternalJwtPolicy,
    jwks: &JwksCache,
) -> Result<VerifiedExternalJwt, Rejection> {
    verify_external_jwt_at(jwt, policy, jwks, unix_now()).await
}

/// [`verify_external_jwt`] with time checks at `now` (unix seconds), for the emulator's clock.
pub(crate) async fn verify_external_jwt_at(
    jwt: &str,
    policy: &ExternalJwtPolicy,
    jwks: &JwksCache,
    now: i64,
) -> Result<VerifiedExternalJwt, Rejection> {
    let parsed = ParsedJwt::parse(jwt)?;
    let alg = parsed.algorithm()?;
    let jwk = jwks.key_for(&policy.jwks_url, parsed.kid()).await?;
    parsed.verify_signature(alg, &jwk)?;
    if let Some(problem) = claim_problems(&parsed.claims, policy, now)
        .into_iter()
        .next()
    {
        return Err(problem);
    }
    let sub = subject(&parsed.claims).expect("claim_problems reports a missing sub");
    Ok(VerifiedExternalJwt::from_claims(sub, parsed.claims))
}

/// Every problem with `jwt` that can be seen: header, key, signature and each claim. Empty when
/// [`verify_external_jwt`] would accept it. An undecodable token yields only that problem.
pub async fn check_external_jwt(
    jwt: &str,
    policy: &ExternalJwtPolicy,
    jwks: &JwksCache,
) -> Vec<Rejection> {
    let parsed = match ParsedJwt::parse(jwt) {
        Ok(parsed) => parsed,
        Err(rejection) => return vec![rejection],
    };
    let mut problems = Vec::new();
    if let Err(problem) = signature_problem(&parsed, policy, jwks).await {
        problems.push(problem);
    }
    problems.extend(claim_problems(&parsed.claims, policy, unix_now()));
    problems
}

async fn signature_problem(
    parsed: &ParsedJwt,
    policy: &ExternalJwtPolicy,
    jwks: &JwksCache,
) -> Result<(), Rejection> {
    let alg = parsed.algorithm()?;
    let jwk = jwks.key_for(&policy.jwks_url, parsed.kid()).await?;
    parsed.verify_signature(alg, &jwk)
}

/// The algorithms Dynamic can verify with a JWKS: asymmetric ones only. HMAC would need a shared
/// secret (and with a public JWKS it is the classic key-confusion attack); `none` is unsigned.
const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A JWT split into its parts, with header and payload decoded but nothing verified.
pub(crate) struct ParsedJwt {
    header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
    /// `base64url(header) "." base64url(payload)`, the signed bytes.
    signing_input: String,
    signature: String,
}

impl ParsedJwt {
    pub(crate) fn parse(jwt: &str) -> Result<Self, Rejection> {
        let jwt = jwt.trim();
        let parts: Vec<&str> = jwt.split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return Err(malformed(format!(
                "expected 3 dot-separated parts, found {}",
                parts.len()
            )));
        };
        let header =
            decode_json_object(header).map_err(|why| malformed(format!("header {why}")))?;
        let claims =
            decode_json_object(payload).map_err(|why| malformed(format!("payload {why}")))?;
        Ok(Self {
            header,
            claims,
            signing_input: jwt[..header_and_payload_len(jwt)].to_owned(),
            signature: signature.to_owned(),
        })
    }

    pub(crate) fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// The header's `alg` when it is one Dynamic accepts.
    pub(crate) fn algorithm(&self) -> Result<Algorithm, Rejection> {
        let unsupported =
            |detail: String| Rejection::new(ExternalAuthRejection::UnsupportedAlgorithm, detail);
        let Some(name) = self.header.get("alg").and_then(Value::as_str) else {
            return Err(unsupported("the header has no alg".to_owned()));
        };
        if self.header.contains_key("crit") {
            return Err(malformed(
                "critical header extensions (crit) are not supported",
            ));
        }
        match name.parse::<Algorithm>() {
            Ok(alg) if ASYMMETRIC.contains(&alg) => Ok(alg),
            _ => Err(unsupported(format!(
                "{name:?} is not accepted; use an asymmetric one (RS256, PS256, ES256, EdDSA, ...)"
            ))),
        }
    }

    pub(crate) fn verify_signature(&self, alg: Algorithm, jwk: &Jwk) -> Result<(), Rejection> {
        let invalid = |detail: &str| Rejection::new(ExternalAuthRejection::Signature, detail);
        if let Some(key_alg) = jwk.common.key_algorithm
            && key_alg.to_string() != format!("{alg:?}")
        {
            return Err(invalid(&format!(
                "the selected key is published for {key_alg}, but the token is signed with {alg:?}"
            )));
        }
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|_| invalid("the selected key cannot be used for verification"))?;
        match jsonwebtoken::crypto::verify(
            &self.signature,
            self.signing_input.as_bytes(),
            &key,
            alg,
        ) {
            Ok(true) => Ok(()),
            Ok(false) => Err(invalid(
                "the signature does not verify with the selected key",
            )),
            Err(e) if matches!(e.kind(), ErrorKind::Base64(_)) => {
                Err(malformed("signature is not base64url"))
            }
            Err(_) => Err(invalid(
                "the selected key is not of the type the token's alg needs",
            )),
        }
    }
}

fn header_and_payload_len(jwt: &str) -> usize {
    jwt.rfind('.').expect("parse checked for three parts")
}

fn decode_json_object(part: &str) -> Result<Map<String, Value>, &'static str> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "is not base64url")?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("is not a JSON object"),
    }
}

fn malformed(detail: impl Into<String>) -> Rejection {
    Rejection::new(ExternalAuthRejection::Malformed, detail)
}

/// `sub` when it is a non-empty string.
pub(crate) fn subject(claims: &Map<String, Value>) -> Option<String> {
    claims
        .get(claim::SUB)
        .and_then(Value::as_str)
        .filter(|sub| !sub.is_empty())
        .map(str::to_owned)
}

/// Every claim-level problem, in the order the server reports them.
pub(crate) fn claim_problems(
    claims: &Map<String, Value>,
    policy: &ExternalJwtPolicy,
    now: i64,
) -> Vec<Rejection> {
    let leeway = policy.leeway.as_secs() as i64;
    [
        issuer_problem(claims, &policy.issuer),
        audience_problem(claims, policy.audience.as_deref()),
        expiry_problem(claims, now, leeway),
        not_before_problem(claims, now, leeway),
        subject_problem(claims),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn missing(name: &str) -> Rejection {
    Rejection::new(
        ExternalAuthRejection::MissingClaim,
        format!("no {name:?} claim"),
    )
}

fn issuer_problem(claims: &Map<String, Value>, expected: &str) -> Option<Rejection> {
    let found = match claims.get(claim::ISS) {
        None => return Some(missing(claim::ISS)),
        Some(Value::String(iss)) if iss == expected => return None,
        Some(Value::String(iss)) => format!("{iss:?}"),
        Some(other) => format!("non-string {other}"),
    };
    Some(Rejection::new(
        ExternalAuthRejection::Issuer,
        format!("expected {expected:?}, found {found}"),
    ))
}

fn audience_problem(claims: &Map<String, Value>, expected: Option<&str>) -> Option<Rejection> {
    let expected = expected?;
    let matches = match claims.get(claim::AUD) {
        Some(Value::String(aud)) => aud == expected,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(expected)),
        _ => false,
    };
    if matches {
        return None;
    }
    let found = claims
        .get(claim::AUD)
        .map_or_else(|| "no aud claim".to_owned(), |aud| format!("found {aud}"));
    Some(Rejection::new(
        ExternalAuthRejection::Audience,
        format!("expected {expected:?}, {found}"),
    ))
}

/// A NumericDate claim: `Ok(None)` when absent, `Err` when present but not a number.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_f64()
            .map(|seconds| Some(seconds.floor() as i64))
            .ok_or_else(|| malformed(format!("{name:?} is not a NumericDate"))),
    }
}

fn expiry_problem(claims: &Map<String, Value>, now: i64, leeway: i64) -> Option<Rejection> {
    let exp = match numeric_date(claims, claim::EXP) {
        Ok(Some(exp)) => exp,
        Ok(None) => return Some(missing(claim::EXP)),
        Err(rejection) => return Some(rejection),
    };
    (exp < now - leeway).then(|| {
        Rejection::new(
            ExternalAuthRejection::Expired,
            format!(
                "exp {exp} is {} s in the past (leeway {leeway} s)",
                now - exp
            ),
        )
    })
}

fn not_before_problem(claims: &Map<String, Value>, now: i64, leeway: i64) -> Option<Rejection> {
    let nbf = match numeric_date(claims, claim::NBF) {
        Ok(Some(nbf)) => nbf,
        Ok(None) => return None,
        Err(rejection) => return Some(rejection),
    };
    (nbf > now + leeway).then(|| {
        Rejection::new(
            ExternalAuthRejection::NotYetValid,
            format!(
                "nbf {nbf} is {} s in the future (leeway {leeway} s)",
                nbf - now
            ),
        )
    })
}

fn subject_problem(claims: &Map<String, Value>) -> Option<Rejection> {
    match claims.get(claim::SUB) {
        None => Some(missing(claim::SUB)),
        Some(_) if subject(claims).is_none() => Some(Rejection::new(
            ExternalAuthRejection::MissingClaim,
            "\"sub\" must be a non-empty string",
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    fn policy(audience: Option<&str>) -> ExternalJwtPolicy {
        ExternalJwtPolicy {
            issuer: "https://issuer.example".into(),
            jwks_url: "https://issuer.example/.well-known/jwks.json".into(),
            audience: audience.map(str::to_owned),
            leeway: Duration::from_secs(30),
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn good() -> Value {
        json!({"iss": "https://issuer.example", "sub": "user-1", "exp": NOW + 60, "iat": NOW})
    }

    fn reasons(claims_value: Value, audience: Option<&str>) -> Vec<ExternalAuthRejection> {
        claim_problems(&claims(claims_value), &policy(audience), NOW)
            .into_iter()
            .map(|r| r.reason)
            .collect()
    }

    fn encode(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn token(header: Value, payload: Value) -> String {
        format!("{}.{}.c2ln", encode(&header), encode(&payload))
    }

    #[test]
    fn valid_claims_have_no_problems() {
        assert!(reasons(good(), None).is_empty());
    }

    #[test]
    fn every_claim_problem_is_reported_not_just_the_first() {
        let all_wrong = json!({"iss": "https://evil", "aud": "other", "exp": NOW - 3600,
                               "nbf": NOW + 3600});
        assert_eq!(
            reasons(all_wrong, Some("app")),
            [
                ExternalAuthRejection::Issuer,
                ExternalAuthRejection::Audience,
                ExternalAuthRejection::Expired,
                ExternalAuthRejection::NotYetValid,
                ExternalAuthRejection::MissingClaim,
            ]
        );
    }

    #[test]
    fn missing_iss_exp_and_sub_are_missing_claims() {
        assert_eq!(
            reasons(json!({}), None),
            [ExternalAuthRejection::MissingClaim; 3]
        );
    }

    #[test]
    fn empty_or_non_string_sub_is_refused() {
        let mut empty = good();
        empty["sub"] = json!("");
        assert_eq!(reasons(empty, None), [ExternalAuthRejection::MissingClaim]);
        let mut number = good();
        number["sub"] = json!(42);
        assert_eq!(reasons(number, None), [ExternalAuthRejection::MissingClaim]);
    }

    #[test]
    fn exp_and_nbf_are_checked_with_the_leeway() {
        let mut within = good();
        within["exp"] = json!(NOW - 29);
        within["nbf"] = json!(NOW + 29);
        assert!(reasons(within, None).is_empty());
        let mut beyond = good();
        beyond["exp"] = json!(NOW - 31);
        beyond["nbf"] = json!(NOW + 31);
        assert_eq!(
            reasons(beyond, None),
            [
                ExternalAuthRejection::Expired,
                ExternalAuthRejection::NotYetValid
            ]
        );
    }

    #[test]
    fn non_numeric_exp_is_malformed() {
        let mut bad = good();
        bad["exp"] = json!("tomorrow");
        assert_eq!(reasons(bad, None), [ExternalAuthRejection::Malformed]);
    }

    #[test]
    fn audience_is_ignored_unless_configured_and_may_be_an_array() {
        let mut with_aud = good();
        with_aud["aud"] = json!(["other", "app"]);
        assert!(reasons(with_aud.clone(), None).is_empty());
        assert!(reasons(with_aud, Some("app")).is_empty());
        assert_eq!(
            reasons(good(), Some("app")),
            [ExternalAuthRejection::Audience]
        );
    }

    #[test]
    fn every_message_classifies_back_to_its_reason() {
        let all_wrong = json!({"iss": 7, "aud": ["x"], "exp": NOW - 3600, "nbf": NOW + 3600,
                               "sub": ""});
        let mut problems = claim_problems(&claims(all_wrong), &policy(Some("app")), NOW);
        problems.extend(claim_problems(&claims(json!({})), &policy(None), NOW));
        problems.push(ParsedJwt::parse("a.b").err().unwrap());
        let none = ParsedJwt::parse(&token(json!({"alg": "none"}), good())).unwrap();
        problems.push(none.algorithm().unwrap_err());
        for problem in problems {
            assert_eq!(
                ExternalAuthRejection::classify(&problem.message()),
                Some(problem.reason),
                "{problem}"
            );
            assert!(problem.message().contains(&problem.detail), "{problem}");
        }
    }

    #[test]
    fn message_drops_a_detail_that_would_misclassify() {
        let rejection = Rejection::new(
            ExternalAuthRejection::Issuer,
            "expected \"https://jwks.example\", found \"x\"",
        );
        assert_eq!(rejection.message(), ExternalAuthRejection::Issuer.message());
        assert!(rejection.to_string().contains("jwks.example"));
    }

    #[test]
    fn parse_refuses_tokens_that_are_not_three_base64url_json_parts() {
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.e30.x",
            "e30.bm90IGpzb24.x",
            "W10.e30.x",
        ] {
            let err = ParsedJwt::parse(bad).err().unwrap();
            assert_eq!(err.reason, ExternalAuthRejection::Malformed, "{bad}");
        }
    }

    #[test]
    fn only_asymmetric_algorithms_are_accepted() {
        for alg in ["none", "HS256", "HS512", "ES512", "RSA-OAEP"] {
            let parsed = ParsedJwt::parse(&token(json!({"alg": alg}), good())).unwrap();
            assert_eq!(
                parsed.algorithm().unwrap_err().reason,
                ExternalAuthRejection::UnsupportedAlgorithm,
                "{alg}"
            );
        }
        for alg in ["RS256", "PS384", "ES256", "ES384", "EdDSA"] {
            let parsed = ParsedJwt::parse(&token(json!({"alg": alg}), good())).unwrap();
            assert!(parsed.algorithm().is_ok(), "{alg}");
        }
    }

    #[test]
    fn missing_alg_is_unsupported_and_crit_is_malformed() {
        let no_alg = ParsedJwt::parse(&token(json!({"typ": "JWT"}), good())).unwrap();
        assert_eq!(
            no_alg.algorithm().unwrap_err().reason,
            ExternalAuthRejection::UnsupportedAlgorithm
        );
        let crit =
            ParsedJwt::parse(&token(json!({"alg": "ES256", "crit": ["b64"]}), good())).unwrap();
        assert_eq!(
            crit.algorithm().unwrap_err().reason,
            ExternalAuthRejection::Malformed
        );
    }

    #[test]
    fn email_is_taken_from_the_claims_and_verified_only_when_true() {
        let verified = VerifiedExternalJwt::from_claims(
            "s".into(),
            claims(json!({"email": "a@b.c", "emailVerified": true})),
        );
        assert_eq!(verified.email.as_deref(), Some("a@b.c"));
        assert!(verified.email_verified);
        let unverified = VerifiedExternalJwt::from_claims(
            "s".into(),
            claims(json!({"email": "a@b.c", "emailVerified": "true"})),
        );
        assert!(!unverified.email_verified);
    }
}
