//! External-JWT sign-in through the real client, over loopback sockets, against the emulator
//! (which verifies signatures against the issuer's real JWKS endpoint). Every public error code
//! of the exchange is triggered here at least once, except `internal` (a panic or a lost
//! runtime) and `sign_in_superseded` (ordering of concurrent results; unit-tested on the
//! lifecycle). The session lifecycle after sign-in is in `session.rs`.

mod support;

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use dynamic_byoa::{
    ByoaError, ClientConfig, CredentialFormat, DynamicClient, NetworkErrorKind, RejectionReason,
    SDK_VERSION_HEADER,
};
use dynamic_byoa_emulator::Fault;
use serde_json::{Value, json};
use support::*;

fn payload_of(jwt: &str) -> Value {
    let segment = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(segment)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn sign_in_returns_the_user_and_the_client_keeps_the_tokens() {
    let fx = Fixture::start().await;
    let client = fx.client();
    let jwt = fx.jwt_for("alice");

    let session = sign_in(&client, &jwt, "alice").await.expect("signed in");

    assert_eq!(session.user.environment_id, ENV);
    assert_eq!(session.user.external_user_id.as_deref(), Some("alice"));
    assert!(session.user.new_user);
    assert!(session.user.session_id.is_some());
    assert!(session.user.scopes.contains(&"user:basic".to_owned()));
    let credential = &session.user.verified_credentials[0];
    assert_eq!(credential.format, CredentialFormat::ExternalUser);
    assert!(session.expires_at_ms > epoch_ms(SystemTime::now() + Duration::from_secs(3000)));

    let tokens = client.auth().tokens().expect("tokens kept");
    let claims = payload_of(&tokens.bearer_token());
    assert_eq!(claims["sub"], json!(session.user.user_id));
    assert_eq!(claims["environment_id"], json!(ENV));
    assert_eq!(claims["sdkVersion"], json!(SDK_VERSION_HEADER));
    assert!(tokens.id_token().is_some());
    assert_eq!(client.auth().session(), Some(session));
    assert_eq!(fx.signin_requests(), 1);
}

#[tokio::test]
async fn the_same_external_user_is_the_same_dynamic_user_across_sign_ins() {
    let fx = Fixture::start().await;
    let client = fx.client();
    let first = sign_in(&client, &fx.jwt_for("bob"), "bob").await.unwrap();
    let second = sign_in(&client, &fx.jwt_for("bob"), "bob").await.unwrap();
    assert_eq!(first.user.user_id, second.user.user_id);
    assert_ne!(first.user.session_id, second.user.session_id);
    assert!(!second.user.new_user);
}

#[tokio::test]
async fn the_origin_is_sent_and_becomes_the_session_audience() {
    let fx = Fixture::start().await;
    let mut config = fx.config();
    config.app_origin = Some("https://app.example.com/welcome".into());
    let client = DynamicClient::new(config, Default::default()).unwrap();
    sign_in(&client, &fx.jwt_for("carol"), "carol")
        .await
        .unwrap();
    let claims = payload_of(&client.auth().tokens().unwrap().bearer_token());
    assert_eq!(claims["aud"], json!("https://app.example.com"));
}

#[tokio::test]
async fn the_wire_request_follows_the_contract_and_never_sends_the_external_user_id() {
    let response = json!({
        "user": {"id": "u", "projectEnvironmentId": ENV, "verifiedCredentials": []},
        "expiresAt": 4_000_000_000u64, "minifiedJwt": "a.b.c"
    });
    let server = CaptureServer::start(200, response.to_string()).await;
    let client = DynamicClient::new(
        ClientConfig::new(ENV).with_api_base_url(&server.base_url),
        Default::default(),
    )
    .unwrap();
    let fx = Fixture::start().await;
    let jwt = fx.jwt_for("dave");
    let key = format!("03{}", "7f".repeat(32));

    let mut request = params(&jwt, "dave");
    request.session_public_key = Some(key.clone());
    // The canned token is not signed by any published key, so the client refuses to keep it:
    // only what went on the wire matters here.
    let refused = client
        .auth()
        .external()
        .sign_in_with_external_jwt(request)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "invalid_response");
    let _ = sign_in(&client, &jwt, "dave").await;

    let requests: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("POST "))
        .collect();
    let first = requests[0].to_ascii_lowercase();
    assert!(first.starts_with(&format!(
        "post /api/v0/sdk/{ENV}/externalauth/signin http/1.1"
    )));
    assert!(first.contains("content-type: application/json"));
    assert!(first.contains(&format!(
        "x-dyn-version: {}",
        SDK_VERSION_HEADER.to_ascii_lowercase()
    )));
    assert!(first.contains("x-dyn-api-version: api/"));
    assert!(!first.contains("authorization:"), "no bearer on sign-in");
    let body: Value = serde_json::from_str(requests[0].split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body, json!({"jwt": jwt, "sessionPublicKey": key}));
    assert!(!requests[0].contains("externalUserId") && !requests[0].contains("dave\""));

    let ids: Vec<String> = requests
        .iter()
        .map(|r| {
            r.lines()
                .find_map(|l| l.strip_prefix("x-dyn-request-id: "))
                .expect("request id header")
                .to_owned()
        })
        .collect();
    assert_eq!(ids[0].len(), 50);
    assert_ne!(ids[0], ids[1], "a fresh request id per request");
}

#[tokio::test]
async fn preflight_failures_never_reach_the_network() {
    let fx = Fixture::start().await;
    let client = fx.client();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expired = fx
        .issuer
        .mint(&json!({"iss": fx.issuer.issuer(), "sub": "erin", "exp": now - 3600}));
    let cases: Vec<(String, &str, &str)> = vec![
        (String::new(), "erin", "empty_jwt"),
        ("not-a-jwt".into(), "erin", "malformed_jwt"),
        (
            fx.jwt_for("erin"),
            "someone-else",
            "external_user_id_mismatch",
        ),
        (expired, "erin", "jwt_expired"),
        (
            format!("{}.{}.c2ln", "e30", "e30"),
            "erin",
            "unsupported_algorithm",
        ),
    ];
    for (jwt, user, code) in cases {
        let error = sign_in(&client, &jwt, user).await.unwrap_err();
        assert_eq!(error.code(), code, "{error}");
        assert_no_token_in(&error, &jwt);
        if user.contains('.') {
            assert_no_token_in(&error, user);
        }
    }
    let mut bad_key = params(&fx.jwt_for("erin"), "erin");
    bad_key.session_public_key = Some("04abc".into());
    let error = client
        .auth()
        .external()
        .sign_in_with_external_jwt(bad_key)
        .await
        .unwrap_err();
    assert_eq!(error, ByoaError::InvalidSessionPublicKey);
    assert_eq!(fx.signin_requests(), 0);
}

async fn rejection_of(fx: &Fixture, jwt: &str, user: &str) -> (RejectionReason, ByoaError) {
    let error = sign_in(&fx.client(), jwt, user).await.unwrap_err();
    assert_no_token_in(&error, jwt);
    match &error {
        ByoaError::ExternalAuthRejected { reason, .. } => (*reason, error.clone()),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_forged_signature_is_rejected_by_the_server_as_a_signature_problem() {
    let fx = Fixture::start().await;
    let forger = dynamic_byoa_emulator::TestIssuer::start().await.unwrap();
    // Same issuer and kid, different private key.
    let header = {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = Some(fx.issuer.kid());
        h
    };
    let forged = forger.mint_with_header(
        header,
        &fx.issuer.claims_for("frank", Duration::from_secs(600)),
    );
    let (reason, error) = rejection_of(&fx, &forged, "frank").await;
    assert_eq!(reason, RejectionReason::Signature);
    assert_eq!(error.code(), "external_auth_rejected");
    assert_eq!(fx.signin_requests(), 1, "a 422 is never retried");
}

#[tokio::test]
async fn server_side_claim_checks_come_back_with_their_reason() {
    let fx = Fixture::start_with(|env| env.audience = Some("my-dynamic-app".into())).await;
    let mut claims = fx.issuer.claims_for("gina", Duration::from_secs(600));
    claims["aud"] = json!("my-dynamic-app");
    let good = fx.issuer.mint(&claims);
    sign_in(&fx.client(), &good, "gina")
        .await
        .expect("the configured audience passes");

    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("someone-else");
    assert_eq!(
        rejection_of(&fx, &fx.issuer.mint(&wrong_aud), "gina")
            .await
            .0,
        RejectionReason::Audience
    );

    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    assert_eq!(
        rejection_of(&fx, &fx.issuer.mint(&wrong_iss), "gina")
            .await
            .0,
        RejectionReason::Issuer
    );

    let mut unknown_kid = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    unknown_kid.kid = Some("no-such-key".into());
    assert_eq!(
        rejection_of(
            &fx,
            &fx.issuer.mint_with_header(unknown_kid, &claims),
            "gina"
        )
        .await
        .0,
        RejectionReason::UnknownKey
    );
}

#[tokio::test]
async fn an_expired_token_the_device_lets_through_is_rejected_as_expired() {
    let fx = Fixture::start().await;
    let mut config = fx.config();
    // A device leeway wider than the server's: the server has the last word.
    config.clock_leeway_seconds = Some(3600);
    let client = DynamicClient::new(config, Default::default()).unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let jwt = fx
        .issuer
        .mint(&json!({"iss": fx.issuer.issuer(), "sub": "hank", "exp": now - 600}));
    let error = sign_in(&client, &jwt, "hank").await.unwrap_err();
    assert!(
        matches!(
            error,
            ByoaError::ExternalAuthRejected {
                reason: RejectionReason::Expired,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn rate_limiting_reports_retry_after() {
    let fx = Fixture::start_with(|env| env.signin_rate_limit_per_minute = Some(1)).await;
    let client = fx.client();
    sign_in(&client, &fx.jwt_for("ivy"), "ivy").await.unwrap();
    let error = sign_in(&client, &fx.jwt_for("ivy"), "ivy")
        .await
        .unwrap_err();
    match error {
        ByoaError::RateLimited {
            retry_after_seconds: Some(seconds),
        } => assert!((1..=60).contains(&seconds), "{seconds}"),
        other => panic!("expected rate_limited, got {other:?}"),
    }
    assert_eq!(fx.signin_requests(), 2, "a 429 is never retried");
}

#[tokio::test]
async fn the_sandbox_user_cap_is_read_from_the_nested_403() {
    let fx = Fixture::start_with(|env| env.max_users = Some(1)).await;
    let client = fx.client();
    sign_in(&client, &fx.jwt_for("jack"), "jack").await.unwrap();
    let error = sign_in(&client, &fx.jwt_for("kate"), "kate")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "sandbox_limit_reached", "{error:?}");
}

#[tokio::test]
async fn an_unknown_environment_is_environment_not_found() {
    let fx = Fixture::start().await;
    let client = DynamicClient::new(
        ClientConfig::new(OTHER_ENV).with_api_base_url(fx.emulator.base_url()),
        Default::default(),
    )
    .unwrap();
    let error = sign_in(&client, &fx.jwt_for("liam"), "liam")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ByoaError::EnvironmentNotFound {
            environment_id: OTHER_ENV.into()
        }
    );
}

#[tokio::test]
async fn a_401_is_unauthorized() {
    let fx = Fixture::start().await;
    fx.emulator.inject_faults(
        "externalAuth/signin",
        vec![Fault::status(401).with_body(r#"{"error":"No jwt provided!"}"#)],
    );
    let error = sign_in(&fx.client(), &fx.jwt_for("mia"), "mia")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ByoaError::Unauthorized {
            server_detail: "No jwt provided!".into()
        }
    );
}

#[tokio::test]
async fn gateway_errors_are_retried_then_succeed() {
    let fx = Fixture::start().await;
    fx.emulator.inject_faults(
        "externalAuth/signin",
        vec![Fault::status(503), Fault::status(502)],
    );
    sign_in(&fx.client(), &fx.jwt_for("noah"), "noah")
        .await
        .expect("third attempt succeeds");
    assert_eq!(fx.signin_requests(), 3);
}

#[tokio::test]
async fn retries_stop_after_two_and_report_the_server_error() {
    let fx = Fixture::start().await;
    fx.emulator.inject_faults(
        "externalAuth/signin",
        vec![
            Fault::status(504),
            Fault::status(504),
            Fault::status(504),
            Fault::status(504),
        ],
    );
    let error = sign_in(&fx.client(), &fx.jwt_for("olga"), "olga")
        .await
        .unwrap_err();
    assert!(
        matches!(error, ByoaError::ServerError { status: 504, .. }),
        "{error:?}"
    );
    assert_eq!(fx.signin_requests(), 3);
}

#[tokio::test]
async fn a_500_is_a_server_error_and_is_not_retried() {
    let fx = Fixture::start().await;
    fx.emulator.inject_faults(
        "externalAuth/signin",
        vec![Fault::status(500).with_body(r#"{"error":"boom"}"#)],
    );
    let error = sign_in(&fx.client(), &fx.jwt_for("pia"), "pia")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ByoaError::ServerError {
            status: 500,
            server_detail: "boom".into()
        }
    );
    assert_eq!(fx.signin_requests(), 1);
}

#[tokio::test]
async fn a_malformed_success_body_is_an_invalid_response() {
    let fx = Fixture::start().await;
    fx.emulator.inject_faults(
        "externalAuth/signin",
        vec![
            Fault::status(200).with_body("<html>not json</html>"),
            Fault::status(200).with_body(r#"{"expiresAt": 1}"#),
        ],
    );
    for _ in 0..2 {
        let error = sign_in(&fx.client(), &fx.jwt_for("quin"), "quin")
            .await
            .unwrap_err();
        assert!(
            matches!(error, ByoaError::InvalidResponse { status: 200, .. }),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let base = format!("http://127.0.0.1:{}/api/v0", closed_port());
    assert_eq!(
        network_failure(&base, None).await,
        NetworkErrorKind::Connect
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let (base, _server) = silent_server().await;
    assert_eq!(
        network_failure(&base, Some(300)).await,
        NetworkErrorKind::Timeout
    );
}

#[tokio::test]
async fn tls_to_a_plain_http_server_is_a_tls_error() {
    let fx = Fixture::start().await;
    let https_base = fx.emulator.base_url().replacen("http://", "https://", 1);
    assert_eq!(
        network_failure(&https_base, None).await,
        NetworkErrorKind::Tls
    );
}

/// The kind of the network error a sign-in through a client at `base` ends with.
async fn network_failure(base: &str, timeout_ms: Option<i64>) -> NetworkErrorKind {
    let mut config = ClientConfig::new(ENV).with_api_base_url(base);
    if let Some(ms) = timeout_ms {
        config.request_timeout_ms = Some(ms);
    }
    let client = DynamicClient::new(config, Default::default()).unwrap();
    let issuer = dynamic_byoa_emulator::TestIssuer::start().await.unwrap();
    let jwt = issuer.mint(&issuer.claims_for("nina", Duration::from_secs(600)));
    match sign_in(&client, &jwt, "nina").await {
        Err(ByoaError::Network { kind, .. }) => kind,
        other => panic!("expected a network error, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_configuration_is_refused_at_construction() {
    let plain_remote =
        ClientConfig::new(ENV).with_api_base_url("http://dynamic.example.com/api/v0");
    let error = DynamicClient::new(plain_remote, Default::default()).unwrap_err();
    assert!(
        matches!(&error, ByoaError::InvalidConfiguration { field, .. } if field == "api_base_url"),
        "{error:?}"
    );
    assert_eq!(
        DynamicClient::new(ClientConfig::new("ENV"), Default::default())
            .unwrap_err()
            .code(),
        "invalid_configuration"
    );
}

#[tokio::test]
async fn a_failed_sign_in_keeps_the_previous_session() {
    let fx = Fixture::start().await;
    let client = fx.client();
    let session = sign_in(&client, &fx.jwt_for("uma"), "uma").await.unwrap();
    let bearer = client.auth().tokens().unwrap().bearer_token();

    fx.emulator
        .inject_faults("externalAuth/signin", vec![Fault::status(500)]);
    sign_in(&client, &fx.jwt_for("uma"), "uma")
        .await
        .unwrap_err();
    sign_in(&client, &fx.jwt_for("uma"), "not-uma")
        .await
        .unwrap_err();

    assert_eq!(client.auth().session(), Some(session));
    assert_eq!(client.auth().tokens().unwrap().bearer_token(), bearer);
}

#[tokio::test]
async fn printing_the_client_and_its_session_never_shows_a_token() {
    let fx = Fixture::start().await;
    let client = fx.client();
    let jwt = fx.jwt_for("vera");
    let session = sign_in(&client, &jwt, "vera").await.unwrap();
    let tokens = client.auth().tokens().unwrap();
    let bearer = tokens.bearer_token();
    let id_token = tokens.id_token().unwrap();
    let printed = [
        format!("{client:?}"),
        format!("{session:?}"),
        format!("{tokens:?}"),
        tokens.to_string(),
        format!("{:?}", params(&jwt, "vera")),
        params(&jwt, "vera").to_string(),
    ];
    for text in printed {
        for secret in [&jwt, &bearer, &id_token] {
            for segment in secret.split('.').filter(|s| s.len() >= 8) {
                assert!(!text.contains(segment), "leak in {text}");
            }
        }
    }
}

#[tokio::test]
async fn another_4xx_is_request_rejected_with_its_code() {
    let fx = Fixture::start().await;
    fx.emulator.inject_faults(
        "externalAuth/signin",
        vec![Fault::status(400).with_body(r#"{"error":"Bad request","code":"bad_request"}"#)],
    );
    let error = sign_in(&fx.client(), &fx.jwt_for("walt"), "walt")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ByoaError::RequestRejected {
            status: 400,
            code: Some("bad_request".into()),
            server_detail: "Bad request".into()
        }
    );
    assert_eq!(fx.signin_requests(), 1);
}

#[tokio::test]
async fn unknown_response_fields_are_ignored() {
    let body = json!({
        "user": {
            "id": "u9", "projectEnvironmentId": ENV, "futureField": [1, 2],
            "verifiedCredentials": [{"id": "c", "format": "externalUser", "signInEnabled": true,
                                      "public_identifier": "xena", "brandNew": {"nested": true}}]
        },
        "expiresAt": 4_000_000_000u64, "minifiedJwt": session_token("u9"), "somethingElse": "ignored"
    });
    let fx = Fixture::start().await;
    fx.emulator.inject_faults(
        "externalAuth/signin",
        vec![Fault::status(200).with_body(body.to_string())],
    );
    let session = sign_in(&fx.client(), &fx.jwt_for("xena"), "xena")
        .await
        .unwrap();
    assert_eq!(session.user.external_user_id.as_deref(), Some("xena"));
}

#[tokio::test]
async fn a_caller_that_stops_waiting_does_not_abort_the_exchange() {
    let fx = Fixture::start().await;
    let client = fx.client();
    let jwt = fx.jwt_for("yuri");
    // Poll the sign-in once (which hands it to the library runtime), then drop it, as a
    // cancelled Kotlin coroutine or Swift task would.
    let mut pending = Box::pin(sign_in(&client, &jwt, "yuri"));
    let abandoned = poll_once(&mut pending).await;
    assert!(
        abandoned.is_none(),
        "the exchange cannot have finished within one poll: the emulator runs on this thread"
    );
    drop(pending);
    // The exchange completes on its own: poll for its effect (bounded), not for time to pass.
    wait_until("the abandoned sign-in to complete", || {
        client.auth().session().is_some()
    })
    .await;
    assert_eq!(
        client
            .auth()
            .session()
            .unwrap()
            .user
            .external_user_id
            .as_deref(),
        Some("yuri")
    );
    assert_eq!(fx.signin_requests(), 1);
}

#[tokio::test]
async fn a_server_side_session_key_refusal_has_the_preflight_code() {
    let fx = Fixture::start().await;
    let body = r#"{"error":"Invalid session public key","code":"invalid_session_public_key"}"#;
    fx.emulator.inject_faults(
        "externalAuth/signin",
        vec![Fault::status(422).with_body(body)],
    );
    let error = sign_in(&fx.client(), &fx.jwt_for("zoe"), "zoe")
        .await
        .unwrap_err();
    assert_eq!(error, ByoaError::InvalidSessionPublicKey);
}

#[tokio::test]
async fn a_connection_dropped_after_the_request_was_sent_is_not_retried() {
    let fx = Fixture::start().await;
    fx.emulator
        .inject_faults("externalAuth/signin", vec![Fault::connection_drop()]);
    assert_eq!(
        network_failure(&fx.emulator.base_url(), None).await,
        NetworkErrorKind::Other
    );
    assert_eq!(
        fx.signin_requests(),
        1,
        "the server may have acted on it: no retry"
    );
}

#[tokio::test]
async fn a_base_url_without_the_api_prefix_is_not_mistaken_for_a_missing_environment() {
    let fx = Fixture::start().await;
    let wrong_base = fx.emulator.base_url().replace("/api/v0", "");
    let client = DynamicClient::new(
        ClientConfig::new(ENV).with_api_base_url(wrong_base),
        Default::default(),
    )
    .unwrap();
    let error = sign_in(&client, &fx.jwt_for("beth"), "beth")
        .await
        .unwrap_err();
    assert!(
        matches!(error, ByoaError::RequestRejected { status: 404, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn sign_ins_from_one_client_share_a_kept_alive_connection() {
    let fx = Fixture::start().await;
    let client = fx.client();
    sign_in(&client, &fx.jwt_for("cleo"), "cleo").await.unwrap();
    // The first sign-in fetches the environment's keys in parallel: two connections at most.
    let warm = fx.emulator.connection_count();
    assert!((1..=2).contains(&warm), "{warm}");
    for _ in 0..3 {
        sign_in(&client, &fx.jwt_for("cleo"), "cleo").await.unwrap();
    }
    assert_eq!(
        fx.emulator.connection_count(),
        warm,
        "pooled connections are reused"
    );
    let other_client = fx.client();
    sign_in(&other_client, &fx.jwt_for("cleo"), "cleo")
        .await
        .unwrap();
    assert!(fx.emulator.connection_count() > warm, "one pool per client");
}

/// A session token for `user_id` signed with the emulator's key, as Dynamic would mint it.
fn session_token(user_id: &str) -> String {
    signing_key().sign(&json!({
        "sub": user_id, "environment_id": ENV, "sid": "s", "exp": 4_000_000_000u64
    }))
}
