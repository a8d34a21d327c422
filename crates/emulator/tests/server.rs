//! End to end over loopback: a TestIssuer (the customer's identity provider with a real JWKS
//! endpoint) and an Emulator, driven with reqwest exactly as a client would.

use std::sync::OnceLock;
use std::time::Duration;

use dynamic_byoa_contract::headers::{RETRY_AFTER, X_DYN_LOGOUT_REASON, X_DYN_REQUEST_ID};
use dynamic_byoa_contract::paths::{self, sdk_url};
use dynamic_byoa_contract::{
    ApiErrorBody, CODE_INVALID_EXTERNAL_AUTH, CODE_INVALID_SESSION_PUBLIC_KEY,
    CODE_SANDBOX_MAXIMUM_THRESHOLD_REACHED, DynamicSessionClaims, ExternalAuthRejection,
    JwksResponse, VerifyResponse,
};
use dynamic_byoa_emulator::{
    Emulator, EmulatorConfig, EnvironmentConfig, ExternalJwtPolicy, Fault, JwksCache, SigningKey,
    TestIssuer, check_external_jwt, http_client,
};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ENV: &str = "2762a57b-faa4-41ce-9f16-abff9300e2c9";
const OTHER_ENV: &str = "0f6b3c2a-1d4e-4f5a-8b6c-7d8e9fa0b1c2";
const HOUR: Duration = Duration::from_secs(3600);

/// One RSA key for all emulators in this test binary: generating RSA-2048 is the slow part.
fn signing_key() -> SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(SigningKey::generate).clone()
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

struct Fixture {
    issuer: TestIssuer,
    emulator: Emulator,
    http: reqwest::Client,
}

async fn fixture() -> Fixture {
    fixture_with(|_| {}).await
}

async fn fixture_with(tweak: impl FnOnce(&mut EnvironmentConfig)) -> Fixture {
    let issuer = TestIssuer::start().await.unwrap();
    let mut env = EnvironmentConfig::new(ENV, issuer.issuer(), issuer.jwks_url());
    tweak(&mut env);
    let mut config = EmulatorConfig::new(vec![env]);
    config.signing_key = Some(signing_key());
    let emulator = Emulator::start(config).await.unwrap();
    Fixture {
        issuer,
        emulator,
        http: http_client().unwrap(),
    }
}

impl Fixture {
    fn url(&self, route: &str) -> String {
        sdk_url(&self.emulator.base_url(), ENV, route)
    }

    /// GET `route` of `ENV` and decode its JSON body.
    async fn get_json<T: serde::de::DeserializeOwned>(&self, route: &str) -> T {
        let response = self.http.get(self.url(route)).send().await.unwrap();
        response.json().await.unwrap()
    }

    fn token_for(&self, sub: &str) -> String {
        self.issuer.mint(&self.issuer.claims_for(sub, HOUR))
    }

    async fn signin(&self, jwt: &str) -> reqwest::Response {
        self.signin_body(json!({ "jwt": jwt })).await
    }

    async fn signin_body(&self, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(paths::EXTERNAL_AUTH_SIGNIN))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn signin_ok(&self, sub: &str) -> VerifyResponse {
        let response = self.signin(&self.token_for(sub)).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Asserts a 422 `invalid_external_auth` whose text classifies as `reason`.
    async fn expect_rejected(&self, jwt: &str, reason: ExternalAuthRejection) {
        let response = self.signin(jwt).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: ApiErrorBody = response.json().await.unwrap();
        assert_eq!(body.code(), Some(CODE_INVALID_EXTERNAL_AUTH));
        let text = body.text_message().unwrap();
        assert!(text.starts_with(reason.message()), "{text}");
        assert_eq!(
            ExternalAuthRejection::classify(text),
            Some(reason),
            "{text}"
        );
        assert!(!text.contains(jwt), "the token must never be echoed");
    }

    async fn with_bearer(
        &self,
        method: reqwest::Method,
        route: &str,
        token: &str,
    ) -> reqwest::Response {
        self.http
            .request(method, self.url(route))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

fn claims_of(token: &str) -> DynamicSessionClaims {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    let key = signing_key().jwks_key();
    let decoding = DecodingKey::from_rsa_components(&key.n.unwrap(), &key.e.unwrap()).unwrap();
    jsonwebtoken::decode(token, &decoding, &validation)
        .unwrap()
        .claims
}

// ---- sign-in success ------------------------------------------------------------------------

#[tokio::test]
async fn signin_returns_the_verify_response_in_contract_casing() {
    let f = fixture().await;
    let response = f
        .http
        .post(f.url(paths::EXTERNAL_AUTH_SIGNIN))
        .header(X_DYN_REQUEST_ID, "req-123")
        .json(&json!({"jwt": f.token_for("ext-alice"), "someFutureField": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("date"), "hyper adds Date");
    assert_eq!(response.headers()[X_DYN_REQUEST_ID], "req-123");
    let body: Value = response.json().await.unwrap();

    let user = &body["user"];
    let credential = &user["verifiedCredentials"][0];
    assert!(body["expiresAt"].is_i64());
    assert!(body["minifiedJwt"].is_string());
    assert!(body["jwt"].is_string());
    assert_eq!(user["projectEnvironmentId"], ENV);
    assert!(user["id"].is_string() && user["sessionId"].is_string());
    assert_eq!(user["newUser"], true);
    assert_eq!(user["scope"], "user:basic");
    assert_eq!(credential["format"], "externalUser");
    assert_eq!(credential["public_identifier"], "ext-alice");
    assert_eq!(credential["signInEnabled"], true);
    assert_eq!(user["lastVerifiedCredentialId"], credential["id"]);
    assert_eq!(user["verifiedCredentials"].as_array().unwrap().len(), 1);

    let claims = claims_of(body["minifiedJwt"].as_str().unwrap());
    assert_eq!(claims.sub, user["id"].as_str().unwrap());
    assert_eq!(claims.sid, user["sessionId"].as_str().unwrap());
    assert_eq!(claims.environment_id, ENV);
    assert_eq!(claims.iss, format!("{}/{ENV}", f.emulator.addr()));
    assert_eq!(claims.aud, ENV, "no Origin: the environment id");
    assert_eq!(claims.exp, body["expiresAt"].as_i64().unwrap());
    assert!(
        (claims.exp - now() - 7200).abs() <= 5,
        "default TTL is two hours"
    );
    assert_eq!(claims.kid, signing_key().kid());
}

#[tokio::test]
async fn same_sub_is_the_same_user_with_a_new_session_each_time() {
    let f = fixture().await;
    let first = f.signin_ok("ext-bob").await;
    let second = f.signin_ok("ext-bob").await;
    let other = f.signin_ok("ext-carol").await;
    assert_eq!(first.user.id, second.user.id);
    assert_ne!(first.user.session_id, second.user.session_id);
    assert_eq!(first.user.new_user, Some(true));
    assert_eq!(second.user.new_user, Some(false));
    assert_eq!(
        first.user.verified_credentials[0].id,
        second.user.verified_credentials[0].id
    );
    assert_ne!(other.user.id, first.user.id);
    assert_eq!(f.emulator.user_count(ENV), 2);
}

#[tokio::test]
async fn origin_version_and_session_key_flow_into_the_access_token() {
    let f = fixture().await;
    let session_key = format!("03{}", "a1".repeat(32));
    let response = f
        .http
        .post(f.url(paths::EXTERNAL_AUTH_SIGNIN))
        .header("origin", "https://app.example")
        .header("x-dyn-version", "ClientSDK/1.27.1")
        .json(&json!({"jwt": f.token_for("ext-dan"), "sessionPublicKey": session_key}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let body: VerifyResponse = response.json().await.unwrap();
    let claims = claims_of(body.minified_jwt.as_deref().unwrap());
    assert_eq!(claims.aud, "https://app.example");
    assert_eq!(claims.sdk_version.as_deref(), Some("ClientSDK/1.27.1"));
    assert_eq!(
        claims.session_public_key.as_deref(),
        Some(session_key.as_str())
    );
}

#[tokio::test]
async fn verified_email_adds_an_email_credential() {
    let f = fixture().await;
    let mut claims = f.issuer.claims_for("ext-erin", HOUR);
    claims["email"] = json!("erin@example.com");
    claims["emailVerified"] = json!(true);
    let response = f.signin(&f.issuer.mint(&claims)).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "erin@example.com");
    let credentials = body["user"]["verifiedCredentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 2);
    assert_eq!(credentials[1]["format"], "email");
    assert_eq!(credentials[1]["email"], "erin@example.com");
}

#[tokio::test]
async fn a_jwt_without_kid_is_accepted_against_a_single_key_jwks() {
    let f = fixture().await;
    let claims = f.issuer.claims_for("ext-frank", HOUR);
    let jwt = f
        .issuer
        .mint_with_header(Header::new(Algorithm::ES256), &claims);
    assert_eq!(f.signin(&jwt).await.status(), StatusCode::OK);
}

// ---- sign-in rejections ---------------------------------------------------------------------

#[tokio::test]
async fn each_invalid_external_jwt_is_refused_with_its_reason() {
    let f = fixture_with(|env| env.audience = Some("my-app".into())).await;
    let good = || {
        let mut claims = f.issuer.claims_for("ext-gina", HOUR);
        claims["aud"] = json!("my-app");
        claims
    };
    assert_eq!(
        f.signin(&f.issuer.mint(&good())).await.status(),
        StatusCode::OK
    );

    let impostor = TestIssuer::start().await.unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(f.issuer.kid());
    let forged = impostor.mint_with_header(header, &good());
    f.expect_rejected(&forged, ExternalAuthRejection::Signature)
        .await;

    let cases: [(&str, Value, ExternalAuthRejection); 6] = [
        (
            "iss",
            json!("https://evil.example"),
            ExternalAuthRejection::Issuer,
        ),
        (
            "aud",
            json!("someone-else"),
            ExternalAuthRejection::Audience,
        ),
        ("exp", json!(now() - 3600), ExternalAuthRejection::Expired),
        (
            "nbf",
            json!(now() + 3600),
            ExternalAuthRejection::NotYetValid,
        ),
        ("sub", Value::Null, ExternalAuthRejection::MissingClaim),
        ("exp", Value::Null, ExternalAuthRejection::MissingClaim),
    ];
    for (claim, value, reason) in cases {
        let mut claims = good();
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(claim);
        } else {
            claims[claim] = value;
        }
        f.expect_rejected(&f.issuer.mint(&claims), reason).await;
    }

    f.expect_rejected(
        &f.issuer.mint_unsigned(&good()),
        ExternalAuthRejection::UnsupportedAlgorithm,
    )
    .await;
    let hs256 = f
        .issuer
        .mint_with_header(Header::new(Algorithm::HS256), &good());
    f.expect_rejected(&hs256, ExternalAuthRejection::UnsupportedAlgorithm)
        .await;
    f.expect_rejected("not-a-jwt", ExternalAuthRejection::Malformed)
        .await;
    assert_eq!(
        f.emulator.user_count(ENV),
        1,
        "no user is created by a refused sign-in"
    );
}

#[tokio::test]
async fn unknown_kid_refetches_once_so_a_rotated_key_is_accepted() {
    let f = fixture().await;
    f.signin_ok("ext-hal").await;
    assert_eq!(f.issuer.jwks_request_count(), 1);
    f.signin_ok("ext-hal").await;
    assert_eq!(f.issuer.jwks_request_count(), 1, "cached");

    f.issuer.rotate_key();
    f.signin_ok("ext-hal").await;
    assert_eq!(
        f.issuer.jwks_request_count(),
        2,
        "one refetch for the new kid"
    );

    // The refetch budget is spent: junk kids do not cause more fetches.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("no-such-kid".into());
    let junk = f
        .issuer
        .mint_with_header(header, &f.issuer.claims_for("ext-hal", HOUR));
    f.expect_rejected(&junk, ExternalAuthRejection::UnknownKey)
        .await;
    f.expect_rejected(&junk, ExternalAuthRejection::UnknownKey)
        .await;
    assert_eq!(f.issuer.jwks_request_count(), 2);
}

#[tokio::test]
async fn header_supplied_key_locations_are_ignored() {
    let f = fixture().await;
    let attacker = TestIssuer::start().await.unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(attacker.kid());
    header.jku = Some(attacker.jwks_url());
    let claims = f.issuer.claims_for("ext-ivy", HOUR);
    f.expect_rejected(
        &attacker.mint_with_header(header, &claims),
        ExternalAuthRejection::UnknownKey,
    )
    .await;
    assert_eq!(attacker.jwks_request_count(), 0, "jku is never fetched");
}

#[tokio::test]
async fn unreachable_jwks_is_reported() {
    let issuer = TestIssuer::start().await.unwrap();
    let mut env = EnvironmentConfig::new(ENV, issuer.issuer(), "http://127.0.0.1:9/jwks.json");
    env.session_ttl = HOUR;
    let mut config = EmulatorConfig::new(vec![env]);
    config.signing_key = Some(signing_key());
    let emulator = Emulator::start(config).await.unwrap();
    let f = Fixture {
        issuer,
        emulator,
        http: http_client().unwrap(),
    };
    f.expect_rejected(
        &f.token_for("ext-jay"),
        ExternalAuthRejection::JwksUnavailable,
    )
    .await;
}

#[tokio::test]
async fn malformed_requests_get_400_and_bad_session_keys_422() {
    let f = fixture().await;
    let empty = f
        .http
        .post(f.url(paths::EXTERNAL_AUTH_SIGNIN))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let body: ApiErrorBody = empty.json().await.unwrap();
    assert!(body.text_message().is_some());

    let bad_key = f
        .signin_body(json!({"jwt": f.token_for("ext-kim"), "sessionPublicKey": "04abcd"}))
        .await;
    assert_eq!(bad_key.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: ApiErrorBody = bad_key.json().await.unwrap();
    assert_eq!(body.code(), Some(CODE_INVALID_SESSION_PUBLIC_KEY));

    let no_jwt = f.signin_body(json!({})).await;
    assert_eq!(no_jwt.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn disabled_external_auth_refuses_every_sign_in() {
    let f = fixture_with(|env| env.external_auth_enabled = false).await;
    f.expect_rejected(&f.token_for("ext-leo"), ExternalAuthRejection::Disabled)
        .await;
}

#[tokio::test]
async fn sandbox_cap_refuses_new_users_with_the_nested_403() {
    let f = fixture_with(|env| env.max_users = Some(1)).await;
    f.signin_ok("ext-mia").await;
    let refused = f.signin(&f.token_for("ext-ned")).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["error"]["code"],
        CODE_SANDBOX_MAXIMUM_THRESHOLD_REACHED
    );
    assert!(body["error"]["message"].is_string());
    f.signin_ok("ext-mia").await; // existing users still sign in
}

#[tokio::test]
async fn sign_in_rate_limit_answers_429_with_retry_after() {
    let f = fixture_with(|env| env.signin_rate_limit_per_minute = Some(2)).await;
    f.signin_ok("ext-oz").await;
    f.signin_ok("ext-oz").await;
    let limited = f.signin(&f.token_for("ext-oz")).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body, json!({"message": "Rate limit exceeded", "code": 429}));
    assert_eq!(
        f.emulator.request_count(ENV, paths::EXTERNAL_AUTH_SIGNIN),
        3
    );
}

#[tokio::test]
async fn unknown_environment_is_404_not_found() {
    let f = fixture().await;
    let url = sdk_url(
        &f.emulator.base_url(),
        OTHER_ENV,
        paths::EXTERNAL_AUTH_SIGNIN,
    );
    let response = f
        .http
        .post(url)
        .json(&json!({"jwt": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "Environment not found", "code": "not_found"})
    );
}

// ---- session routes -------------------------------------------------------------------------

#[tokio::test]
async fn bearer_routes_follow_the_session_until_revoked() {
    use reqwest::Method;
    let f = fixture().await;
    let key = format!("02{}", "0f".repeat(32));
    let response = f
        .signin_body(json!({"jwt": f.token_for("ext-pia"), "sessionPublicKey": key}))
        .await;
    let signed_in: VerifyResponse = response.json().await.unwrap();
    let token = signed_in.minified_jwt.clone().unwrap();

    let check = f.with_bearer(Method::GET, paths::SESSION, &token).await;
    assert_eq!(check.status(), StatusCode::NO_CONTENT);

    let user: Value = f
        .with_bearer(Method::GET, paths::USERS, &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["id"], signed_in.user.id.as_str());
    assert_eq!(
        user["verifiedCredentials"][0]["public_identifier"],
        "ext-pia"
    );

    let refreshed = f.with_bearer(Method::POST, paths::REFRESH, &token).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed: VerifyResponse = refreshed.json().await.unwrap();
    assert_eq!(refreshed.user.session_id, signed_in.user.session_id);
    assert_eq!(refreshed.user.new_user, Some(false));
    let claims = claims_of(refreshed.minified_jwt.as_deref().unwrap());
    assert_eq!(claims.session_public_key.as_deref(), Some(key.as_str()));
    assert_eq!(claims.exp, refreshed.expires_at);

    let revoke = f
        .http
        .post(f.url(paths::REVOKE))
        .bearer_auth(&token)
        .header(X_DYN_LOGOUT_REASON, "user-intent")
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        f.emulator.last_logout_reason(ENV).as_deref(),
        Some("user-intent")
    );

    // Both the original and the refreshed token name the revoked session.
    for token in [&token, refreshed.minified_jwt.as_ref().unwrap()] {
        for (method, route) in [
            (Method::GET, paths::SESSION),
            (Method::GET, paths::USERS),
            (Method::POST, paths::REFRESH),
            (Method::POST, paths::REVOKE),
        ] {
            let response = f.with_bearer(method, route, token).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{route}");
            let body: ApiErrorBody = response.json().await.unwrap();
            assert!(body.text_message().is_some());
        }
    }
}

#[tokio::test]
async fn missing_expired_foreign_id_and_hook_revoked_bearers_are_401() {
    let f = fixture().await;
    let session = f.signin_ok("ext-quinn").await;
    let token = session.minified_jwt.unwrap();

    let missing = f.http.get(f.url(paths::SESSION)).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let body: ApiErrorBody = missing.json().await.unwrap();
    assert_eq!(body.text_message(), Some("No jwt provided!"));

    let mut expired = claims_of(&token);
    expired.exp = now() - 3600;
    let expired = signing_key().sign(&expired);
    let response = f
        .with_bearer(reqwest::Method::GET, paths::SESSION, &expired)
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let mut foreign = claims_of(&token);
    foreign.environment_id = OTHER_ENV.into();
    let foreign = signing_key().sign(&foreign);
    let response = f
        .with_bearer(reqwest::Method::GET, paths::SESSION, &foreign)
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let garbage = f
        .with_bearer(reqwest::Method::GET, paths::SESSION, "a.b.c")
        .await;
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);

    let id_token = session.jwt.unwrap();
    let id_as_bearer = f
        .with_bearer(reqwest::Method::GET, paths::SESSION, &id_token)
        .await;
    assert_eq!(
        id_as_bearer.status(),
        StatusCode::UNAUTHORIZED,
        "the ID token is not a bearer"
    );

    let ok = f
        .with_bearer(reqwest::Method::GET, paths::SESSION, &token)
        .await;
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    f.emulator.revoke_all_sessions(ENV);
    let revoked = f
        .with_bearer(reqwest::Method::GET, paths::SESSION, &token)
        .await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
}

// ---- public routes --------------------------------------------------------------------------

#[tokio::test]
async fn jwks_endpoints_serve_the_key_that_verifies_session_tokens() {
    let f = fixture().await;
    let token = f.signin_ok("ext-ray").await.minified_jwt.unwrap();
    for route in [paths::JWKS, paths::JWKS_JSON] {
        let jwks: JwksResponse = f.get_json(route).await;
        let key = &jwks.keys[0];
        assert_eq!(key.kty.as_deref(), Some("RSA"));
        assert_eq!(key.alg.as_deref(), Some("RS256"));
        assert_eq!(key.use_.as_deref(), Some("sig"));
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid, key.kid);
        let decoding =
            DecodingKey::from_rsa_components(key.n.as_deref().unwrap(), key.e.as_deref().unwrap())
                .unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_aud = false;
        assert!(jsonwebtoken::decode::<Value>(&token, &decoding, &validation).is_ok());
    }
}

#[tokio::test]
async fn settings_describe_the_external_auth_setup() {
    let f = fixture().await;
    let settings: Value = f.get_json(paths::SETTINGS).await;
    for key in [
        "chains", "kyc", "design", "general", "privacy", "sdk", "security",
    ] {
        assert!(settings.get(key).is_some(), "{key}");
    }
    assert_eq!(settings["environmentName"], "sandbox");
    let external = &settings["security"]["externalAuth"];
    assert_eq!(external["enabled"], true);
    assert_eq!(external["iss"], f.issuer.issuer());
    assert_eq!(external["jwksUrl"], f.issuer.jwks_url());
    assert_eq!(external["cookieName"], Value::Null);
    assert_eq!(
        settings["security"]["jwtDuration"],
        json!({"amount": 120, "unit": "minutes"})
    );
}

#[tokio::test]
async fn nonces_are_issued_and_count_is_clamped() {
    let f = fixture().await;
    let single: Value = f.get_json(paths::NONCE).await;
    assert!(single["nonce"].is_string());
    for (count, expected) in [("5", 5), ("50", 20), ("0", 1), ("junk", 1)] {
        let url = format!("{}?count={count}", f.url(paths::NONCES));
        let body: Value = f.http.get(url).send().await.unwrap().json().await.unwrap();
        assert_eq!(
            body["nonces"].as_array().unwrap().len(),
            expected,
            "count={count}"
        );
    }
}

#[tokio::test]
async fn cors_preflight_is_answered_for_every_route() {
    let f = fixture().await;
    for route in [paths::EXTERNAL_AUTH_SIGNIN, paths::REFRESH, paths::SETTINGS] {
        let response = f
            .http
            .request(reqwest::Method::OPTIONS, f.url(route))
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, x-dyn-version",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let headers = response.headers();
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://app.example"
        );
        assert!(
            headers["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("POST")
        );
        assert!(
            headers["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("x-dyn-version")
        );
    }
    assert_eq!(
        f.emulator.request_count(ENV, paths::EXTERNAL_AUTH_SIGNIN),
        0
    );
    let plain = f.http.get(f.url(paths::SETTINGS)).send().await.unwrap();
    assert_eq!(plain.headers()["access-control-allow-origin"], "*");
}

// ---- test hooks -----------------------------------------------------------------------------

#[tokio::test]
async fn injected_faults_replace_the_next_responses_in_order() {
    let f = fixture().await;
    f.emulator.inject_faults(
        paths::EXTERNAL_AUTH_SIGNIN,
        vec![
            Fault::status(503).with_body(r#"{"error":"down"}"#),
            Fault::status(429)
                .with_header("retry-after", "5")
                .with_body("Too many"),
        ],
    );
    let jwt = f.token_for("ext-sam");
    let first = f.signin(&jwt).await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(first.text().await.unwrap(), r#"{"error":"down"}"#);
    let second = f.signin(&jwt).await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(second.headers()[RETRY_AFTER], "5");
    assert_eq!(f.signin(&jwt).await.status(), StatusCode::OK);
    assert_eq!(
        f.emulator.request_count(ENV, paths::EXTERNAL_AUTH_SIGNIN),
        3
    );
    assert_eq!(f.emulator.request_count(ENV, paths::REFRESH), 0);
}

#[tokio::test]
async fn connection_drop_fault_is_a_transport_error() {
    let f = fixture().await;
    f.emulator
        .inject_faults(paths::SETTINGS, vec![Fault::connection_drop()]);
    let dropped = f.http.get(f.url(paths::SETTINGS)).send().await.unwrap_err();
    // hyper reports IncompleteMessage: the connection closed before any response byte.
    assert!(dropped.is_request() && !dropped.is_timeout(), "{dropped:?}");
    let next = f.http.get(f.url(paths::SETTINGS)).send().await.unwrap();
    assert_eq!(next.status(), StatusCode::OK);
    assert_eq!(f.emulator.request_count(ENV, paths::SETTINGS), 2);
}

#[tokio::test]
async fn shutdown_stops_the_server_and_closes_kept_alive_connections() {
    let f = fixture().await;
    let url = f.url(paths::SETTINGS);
    assert!(f.http.get(&url).send().await.is_ok());
    f.emulator.shutdown().await;
    // Same client: its pooled keep-alive connection must not be served any more.
    assert!(f.http.get(&url).send().await.is_err());
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let f = fixture().await;
    let url = f.url(paths::SETTINGS);
    assert!(f.http.get(&url).send().await.is_ok());
    drop(f.emulator);
    // Let the background shutdown run (a few scheduler turns, no wall-clock waiting).
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(http_client().unwrap().get(&url).send().await.is_err());
    assert!(f.http.get(&url).send().await.is_err());
}

#[tokio::test]
async fn routes_can_live_at_the_root_and_start_rejects_bad_configs() {
    let mut root = EmulatorConfig::new(vec![EnvironmentConfig::new(
        ENV,
        "https://issuer.example",
        "https://issuer.example/jwks",
    )]);
    root.base_path = "/".into();
    root.signing_key = Some(signing_key());
    let emulator = Emulator::start(root).await.unwrap();
    assert_eq!(emulator.base_url(), format!("http://{}", emulator.addr()));
    let response = http_client()
        .unwrap()
        .get(sdk_url(&emulator.base_url(), ENV, paths::SETTINGS))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let mut bad = EmulatorConfig::new(vec![EnvironmentConfig::new("Not-A-Uuid", "i", "https://i")]);
    bad.signing_key = Some(signing_key());
    let err = Emulator::start(bad).await.unwrap_err();
    assert!(err.to_string().contains("lowercase UUID"), "{err}");
}

// ---- the CLI's check ------------------------------------------------------------------------

#[tokio::test]
async fn check_reports_every_problem_of_a_token() {
    let issuer = TestIssuer::start().await.unwrap();
    let impostor = TestIssuer::start().await.unwrap();
    let policy = ExternalJwtPolicy {
        issuer: issuer.issuer(),
        jwks_url: issuer.jwks_url(),
        audience: Some("my-app".into()),
        leeway: Duration::from_secs(30),
    };
    let cache = JwksCache::new(http_client().unwrap());

    let good = json!({"iss": issuer.issuer(), "sub": "u", "aud": "my-app", "exp": now() + 60});
    assert!(
        check_external_jwt(&issuer.mint(&good), &policy, &cache)
            .await
            .is_empty()
    );

    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(issuer.kid());
    let bad = json!({"iss": "https://evil", "exp": now() - 3600, "nbf": now() + 3600});
    let problems =
        check_external_jwt(&impostor.mint_with_header(header, &bad), &policy, &cache).await;
    let reasons: Vec<_> = problems.iter().map(|p| p.reason).collect();
    assert_eq!(
        reasons,
        [
            ExternalAuthRejection::Signature,
            ExternalAuthRejection::Issuer,
            ExternalAuthRejection::Audience,
            ExternalAuthRejection::Expired,
            ExternalAuthRejection::NotYetValid,
            ExternalAuthRejection::MissingClaim,
        ]
    );
}

#[tokio::test]
async fn each_environment_signs_with_its_own_key() {
    let issuer = TestIssuer::start().await.unwrap();
    let environments = [ENV, OTHER_ENV]
        .map(|id| EnvironmentConfig::new(id, issuer.issuer(), issuer.jwks_url()))
        .to_vec();
    // No shared key: the emulator generates one per environment, as Dynamic has.
    let emulator = Emulator::start(EmulatorConfig::new(environments))
        .await
        .unwrap();
    let http = http_client().unwrap();
    let base = emulator.base_url();

    let mut kids = Vec::new();
    for env in [ENV, OTHER_ENV] {
        let jwks: JwksResponse = http
            .get(sdk_url(&base, env, paths::JWKS))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        kids.push(jwks.keys[0].kid.clone().unwrap());
        assert_eq!(
            Some(kids.last().unwrap().as_str()),
            emulator.signing_key(env).map(SigningKey::kid)
        );
    }
    assert_ne!(kids[0], kids[1]);

    let jwt = issuer.mint(&issuer.claims_for("ext-ida", HOUR));
    let session: VerifyResponse = http
        .post(sdk_url(&base, ENV, paths::EXTERNAL_AUTH_SIGNIN))
        .json(&json!({"jwt": jwt}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session.minified_jwt.unwrap();
    let elsewhere = http
        .get(sdk_url(&base, OTHER_ENV, paths::SESSION))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED);
    let home = http
        .get(sdk_url(&base, ENV, paths::SESSION))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn advancing_the_emulator_clock_moves_minting_expiry_and_the_date_header() {
    use reqwest::Method;
    let f = fixture_with(|env| env.session_ttl = HOUR).await;
    let first = f.signin_ok("ext-tess").await;
    let token = first.minified_jwt.clone().unwrap();
    let check = f.with_bearer(Method::GET, paths::SESSION, &token).await;
    let date = |r: &reqwest::Response| {
        httpdate::parse_http_date(r.headers()["date"].to_str().unwrap()).unwrap()
    };
    let before = date(&check);

    let two_hours = Duration::from_secs(2 * 3600);
    f.emulator.advance_time(two_hours);
    f.issuer.advance_time(two_hours);
    let expired = f.with_bearer(Method::GET, paths::SESSION, &token).await;
    assert_eq!(
        expired.status(),
        StatusCode::UNAUTHORIZED,
        "the session ran out"
    );
    let moved = date(&expired).duration_since(before).unwrap();
    assert!(
        moved >= two_hours && moved < two_hours + Duration::from_secs(60),
        "{moved:?}"
    );

    // Tokens the issuer mints now are valid on the emulator's clock, and sessions start from it.
    let second = f.signin_ok("ext-tess").await;
    assert!(second.expires_at >= first.expires_at + 2 * 3600);
}

// ---- step-up: externalAuth/verify -----------------------------------------------------------

impl Fixture {
    /// A step-up assertion for `sub` with `extra` claims merged in.
    fn assertion(&self, sub: &str, extra: Value) -> String {
        let mut claims = self.issuer.claims_for(sub, HOUR);
        for (name, value) in extra.as_object().unwrap() {
            claims[name] = value.clone();
        }
        self.issuer.mint(&claims)
    }

    async fn verify(&self, bearer: Option<&str>, assertion: &str) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.url(paths::EXTERNAL_AUTH_VERIFY))
            .json(&json!({ "jwt": assertion }));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send().await.unwrap()
    }

    async fn expect_verify_rejected(
        &self,
        bearer: &str,
        assertion: &str,
        reason: ExternalAuthRejection,
    ) {
        let response = self.verify(Some(bearer), assertion).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: ApiErrorBody = response.json().await.unwrap();
        assert_eq!(body.code(), Some(CODE_INVALID_EXTERNAL_AUTH));
        let text = body.text_message().unwrap();
        assert_eq!(
            ExternalAuthRejection::classify(text),
            Some(reason),
            "{text}"
        );
    }
}

#[tokio::test]
async fn verify_mints_a_short_lived_elevated_token_for_the_session_user() {
    let f = fixture_with(|env| env.elevated_token_ttl = Duration::from_secs(120)).await;
    let session = f.signin_ok("ext-ria").await;
    let bearer = session.minified_jwt.unwrap();
    let assertion = f.assertion(
        "ext-ria",
        json!({"scope": "wallet:export wallet:sign", "jti": "r-1", "singleUse": true}),
    );

    let response = f.verify(Some(&bearer), &assertion).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let token = body["elevatedAccessToken"].as_str().unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    let key = signing_key().jwks_key();
    let decoding = DecodingKey::from_rsa_components(&key.n.unwrap(), &key.e.unwrap()).unwrap();
    let claims: dynamic_byoa_contract::ElevatedAccessTokenClaims =
        jsonwebtoken::decode(token, &decoding, &validation)
            .unwrap()
            .claims;
    assert_eq!(claims.scope, "wallet:export wallet:sign");
    assert_eq!(claims.sub.as_deref(), Some(session.user.id.as_str()));
    assert_eq!(claims.environment_id.as_deref(), Some(ENV));
    assert_eq!(claims.single_use, Some(true));
    assert!(
        (claims.exp - now() - 120).abs() <= 2,
        "{}",
        claims.exp - now()
    );
}

#[tokio::test]
async fn verify_refuses_each_bad_assertion_with_its_reason() {
    let f = fixture().await;
    let bearer = f.signin_ok("ext-sam").await.minified_jwt.unwrap();
    let good = json!({"scope": "pay", "jti": "s-1"});

    let other_user = f.assertion("ext-tom", json!({"scope": "pay", "jti": "s-2"}));
    f.expect_verify_rejected(&bearer, &other_user, ExternalAuthRejection::SubjectMismatch)
        .await;
    for (claims, reason) in [
        (json!({"jti": "s-3"}), ExternalAuthRejection::MissingClaim),
        (json!({"scope": "pay"}), ExternalAuthRejection::MissingClaim),
        (
            json!({"scope": "pay", "jti": "s-4", "exp": now() - 3600}),
            ExternalAuthRejection::Expired,
        ),
        (
            json!({"scope": "pay", "jti": "s-5", "iss": "https://elsewhere.example"}),
            ExternalAuthRejection::Issuer,
        ),
    ] {
        f.expect_verify_rejected(&bearer, &f.assertion("ext-sam", claims), reason)
            .await;
    }
    let tampered = format!("{}AA", f.assertion("ext-sam", good.clone()));
    f.expect_verify_rejected(&bearer, &tampered, ExternalAuthRejection::Signature)
        .await;

    let assertion = f.assertion("ext-sam", good);
    assert_eq!(
        f.verify(Some(&bearer), &assertion).await.status(),
        StatusCode::OK
    );
    f.expect_verify_rejected(&bearer, &assertion, ExternalAuthRejection::Replayed)
        .await;
}

#[tokio::test]
async fn verify_needs_a_live_session_bearer() {
    let f = fixture().await;
    let bearer = f.signin_ok("ext-uma").await.minified_jwt.unwrap();
    let assertion = f.assertion("ext-uma", json!({"scope": "pay", "jti": "u-1"}));
    assert_eq!(
        f.verify(None, &assertion).await.status(),
        StatusCode::UNAUTHORIZED
    );
    f.emulator.revoke_all_sessions(ENV);
    assert_eq!(
        f.verify(Some(&bearer), &assertion).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
