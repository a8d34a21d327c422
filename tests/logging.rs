//! Logs the app can see, through the real client over loopback against the emulator. The logger
//! is process-wide, so this binary holds one test that walks the whole session: sign-in, step-up,
//! refresh (with a retried 503), a refused sign-in, a replayed step-up, a failing store and
//! sign-out, all captured at the most verbose level.

mod support;

use dynamic_byoa::ClientDependencies;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dynamic_byoa::clock::ManualClock;
use dynamic_byoa::{
    AccessTokenOptions, DynamicClient, LogLevel, Logger, SessionStorage, SoftwareKeySigner,
    set_logger,
};
use dynamic_byoa_emulator::Fault;
use support::*;

#[derive(Default)]
struct CapturingLogger {
    lines: Mutex<Vec<(LogLevel, String, String)>>,
}

impl CapturingLogger {
    fn lines(&self) -> Vec<(LogLevel, String, String)> {
        self.lines.lock().unwrap().clone()
    }

    fn messages(&self) -> Vec<String> {
        self.lines().into_iter().map(|(_, _, m)| m).collect()
    }

    fn has(&self, wanted: impl Fn(&str) -> bool) -> bool {
        self.messages().iter().any(|m| wanted(m))
    }
}

impl Logger for CapturingLogger {
    fn log(&self, level: LogLevel, target: String, message: String) {
        self.lines.lock().unwrap().push((level, target, message));
    }
}

/// The hex private key inside a software signer's stored key record.
fn secret_key_of(record: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(record).unwrap();
    value["secretKey"].as_str().unwrap().to_owned()
}

/// Every dot-separated piece of a token long enough to identify it (header, claims, signature).
fn segments(token: &str) -> Vec<String> {
    token
        .split('.')
        .filter(|s| s.len() >= 8)
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_app_sees_requests_states_and_retries_but_never_a_token() {
    let logger = Arc::new(CapturingLogger::default());
    set_logger(Some(logger.clone()), LogLevel::Trace);

    let fx = Fixture::start().await;
    let keychain = SimulatedKeychain::new();
    let clock = Arc::new(ManualClock::starting_now());
    let mut config = fx.config();
    config.auto_refresh = Some(false);
    // Bound to device keys (the software signer, on a store of its own so that the broken
    // keychain below fails only the session's write): key material is one more secret that must
    // never be logged.
    let key_store = Arc::new(dynamic_byoa::MemoryStorage::new());
    let signer = Arc::new(SoftwareKeySigner::new(key_store.clone()));
    let client = DynamicClient::with_clock(
        config,
        ClientDependencies {
            storage: Some(keychain.clone()),
            key_signer: Some(signer),
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap();
    client.auth().restore().await;

    let mut secrets = Vec::new();
    let mut errors = Vec::new();

    // Sign in, step up (the first attempt answered 503 and retried: a step-up carries no
    // one-time nonce, so it may be resent), refresh, force a refresh.
    let jwt = fx.jwt_for("quinn");
    secrets.push(jwt.clone());
    sign_in(&client, &jwt, "quinn").await.unwrap();
    let assertion = fx.assertion_for("quinn", "wallet:export", "q-1", false);
    secrets.push(assertion.clone());
    fx.emulator
        .inject_faults("externalAuth/verify", vec![Fault::status(503)]);
    step_up(&client, &assertion).await.unwrap();
    secrets.push(
        client
            .auth()
            .elevated_access_token(vec!["wallet:export".into()])
            .unwrap(),
    );
    let tokens = client.auth().tokens().unwrap();
    secrets.push(tokens.bearer_token());
    secrets.extend(tokens.id_token());
    client.auth().refresh().await.unwrap();
    secrets.push(client.auth().tokens().unwrap().bearer_token());
    let forced = client
        .auth()
        .access_token(AccessTokenOptions {
            min_ttl_seconds: Some(60),
            force_refresh: true,
        })
        .await
        .unwrap();
    secrets.push(forced);

    // Refusals: a replayed assertion, a tampered JWT, a store that cannot be written.
    errors.push(step_up(&client, &assertion).await.unwrap_err());
    let tampered = format!("{}x", fx.jwt_for("quinn"));
    secrets.push(tampered.clone());
    errors.push(sign_in(&client, &tampered, "quinn").await.unwrap_err());
    keychain.set_broken(true);
    let other = fx.jwt_for("quinn");
    secrets.push(other.clone());
    sign_in(&client, &other, "quinn").await.unwrap();
    secrets.push(client.auth().tokens().unwrap().bearer_token());
    keychain.set_broken(false);
    client.auth().sign_out().await;
    errors.push(step_up(&client, &assertion).await.unwrap_err());

    // The software signer's private keys, as stored.
    let device_key = key_store
        .get(format!("dynamic_{ENV}_device_key"))
        .unwrap()
        .expect("the device key was stored");
    secrets.push(secret_key_of(&device_key));

    // What was logged: each request with its method, path, status, duration and request id...
    let signin = format!("POST /api/v0/sdk/{ENV}/externalAuth/signin -> 200 in ");
    let request_line = logger
        .messages()
        .into_iter()
        .find(|m| m.starts_with(&signin))
        .expect("the sign-in request is logged");
    let id = request_line
        .split("(x-dyn-request-id ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(')'))
        .expect("with its request id");
    assert!(
        id.len() == 50 && id.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{request_line}"
    );
    for path in [
        "externalAuth/verify",
        "refresh",
        "revoke",
        ".well-known/jwks",
    ] {
        assert!(
            logger.has(|m| m.contains(&format!("/sdk/{ENV}/{path} -> "))),
            "{path} not logged"
        );
    }
    assert!(logger.has(|m| m.contains("-> 503 in ")));
    assert!(logger.has(|m| m.contains("-> 422 in ")));
    // ... retries with their reason, state changes, step-ups and storage errors.
    assert!(logger.has(|m| m.starts_with("retrying POST") && m.ends_with("HTTP 503")));
    assert!(logger.has(|m| m.starts_with("state: signed in (user ")));
    assert!(logger.has(|m| m == "state: signed out (user_intent)"));
    assert!(logger.has(|m| m.starts_with("step-up granted scopes [wallet:export]")));
    assert!(logger.has(|m| m.starts_with("saving the session failed")));
    let lines = logger.lines();
    assert!(
        lines
            .iter()
            .all(|(_, target, _)| target.starts_with("dynamic_byoa::")),
        "only the core's own targets"
    );
    assert!(
        lines
            .iter()
            .any(|(level, target, _)| *level == LogLevel::Debug && target == "dynamic_byoa::http")
    );
    assert!(lines.iter().any(|(level, _, _)| *level == LogLevel::Warn));

    // Never a token, a JWT segment or a signature, in a log line or an error.
    let texts: Vec<String> = logger
        .messages()
        .into_iter()
        .chain(
            errors
                .iter()
                .flat_map(|e| [e.to_string(), format!("{e:?}")]),
        )
        .collect();
    for secret in &secrets {
        for segment in segments(secret) {
            for text in &texts {
                assert!(
                    !text.contains(&segment),
                    "a token segment leaked into: {text}"
                );
            }
        }
    }

    // The level filters, and `None` turns logging off.
    set_logger(Some(logger.clone()), LogLevel::Warn);
    let before = logger.lines().len();
    sign_in(&client, &fx.jwt_for("quinn"), "quinn")
        .await
        .unwrap();
    assert_eq!(logger.lines().len(), before, "info and debug are filtered");
    set_logger(None, LogLevel::Trace);
    keychain.set_broken(true);
    client.auth().sign_out().await;
    fx.pass_time(&clock, Duration::from_secs(1));
    assert_eq!(
        logger.lines().len(),
        before,
        "nothing after the logger is removed"
    );
}
