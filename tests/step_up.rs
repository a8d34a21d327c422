//! Step-up (`verify_with_external_jwt`) and the always-fresh access token (`access_token`),
//! through the real client over loopback against the emulator. Time is a `ManualClock` moved in
//! step with the emulator and the issuer: no test waits for real time to pass.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use dynamic_byoa::clock::ManualClock;
use dynamic_byoa::{
    AccessTokenOptions, AuthState, ByoaError, DynamicClient, ElevatedAccess, MemoryStorage,
    RejectionReason, SignOutReason,
};
use dynamic_byoa_emulator::DEFAULT_ELEVATED_TOKEN_TTL;
use serde_json::Value;
use support::*;

const VERIFY: &str = "externalAuth/verify";
const REFRESH: &str = "refresh";
/// The emulator's default session lifetime.
const SESSION_TTL: Duration = Duration::from_secs(2 * 60 * 60);

/// A client on a manual clock with automatic refresh off: only the test's calls refresh.
fn manual_client(fx: &Fixture) -> (Arc<DynamicClient>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::starting_now());
    let mut config = fx.config();
    config.auto_refresh = Some(false);
    let client = fx.client_with(config, Arc::new(MemoryStorage::new()), clock.clone());
    (client, clock)
}

async fn signed_in_client(fx: &Fixture, user: &str) -> (Arc<DynamicClient>, Arc<ManualClock>) {
    let (client, clock) = manual_client(fx);
    client.auth().restore().await;
    sign_in(&client, &fx.jwt_for(user), user).await.unwrap();
    (client, clock)
}

/// A step-up for `user` started in the background and held at the emulator once it arrived.
async fn step_up_held_in_flight(
    fx: &Fixture,
    client: &Arc<DynamicClient>,
    user: &str,
    jti: &str,
) -> (
    dynamic_byoa_emulator::Hold,
    tokio::task::JoinHandle<Result<ElevatedAccess, ByoaError>>,
) {
    let hold = fx.emulator.hold(VERIFY);
    let client = client.clone();
    let assertion = fx.assertion_for(user, "pay", jti, false);
    let in_flight = tokio::spawn(async move { step_up(&client, &assertion).await });
    fx.wait_for_request(VERIFY).await;
    (hold, in_flight)
}

async fn access_token(
    client: &DynamicClient,
    min_ttl_seconds: i64,
    force_refresh: bool,
) -> Result<String, ByoaError> {
    client
        .auth()
        .access_token(AccessTokenOptions {
            min_ttl_seconds: Some(min_ttl_seconds),
            force_refresh,
        })
        .await
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn bearer(client: &DynamicClient) -> String {
    client.auth().tokens().expect("signed in").bearer_token()
}

// --- Step-up ---

#[tokio::test]
async fn a_step_up_grants_an_elevated_token_the_app_reads_for_its_sensitive_call() {
    let fx = Fixture::start().await;
    let (client, _clock) = signed_in_client(&fx, "ada").await;
    let before = SystemTime::now();

    let granted = step_up(
        &client,
        &fx.assertion_for("ada", "wallet:export", "a-1", false),
    )
    .await
    .unwrap();

    assert_eq!(granted.scopes, scopes(&["wallet:export"]));
    assert!(!granted.single_use);
    let lifetime = Duration::from_millis((granted.expires_at_ms - epoch_ms(before)) as u64);
    assert!(
        lifetime <= DEFAULT_ELEVATED_TOKEN_TTL + Duration::from_secs(2)
            && lifetime >= DEFAULT_ELEVATED_TOKEN_TTL - Duration::from_secs(5),
        "{lifetime:?}"
    );
    let token = client
        .auth()
        .elevated_access_token(scopes(&["wallet:export"]))
        .expect("the elevated token is kept with the session");
    let claims = claims_of(&token);
    assert_eq!(claims["scope"], "wallet:export");
    assert_eq!(claims["sub"], client.auth().session().unwrap().user.user_id);
    assert_eq!(claims["environment_id"], ENV);
    assert_eq!(
        client
            .auth()
            .elevated_access_token(scopes(&["wallet:export"])),
        Some(token.clone()),
        "a reusable token can be read again"
    );
    assert_eq!(
        client
            .auth()
            .elevated_access_token(scopes(&["wallet:sign"])),
        None,
        "no token for a scope the step-up did not grant"
    );
    assert!(!format!("{granted:?}").contains(&token[..20]));
    assert_eq!(fx.requests(VERIFY), 1);
}

#[tokio::test]
async fn a_single_use_elevated_token_is_handed_out_once() {
    let fx = Fixture::start().await;
    let (client, _clock) = signed_in_client(&fx, "ben").await;
    let granted = step_up(&client, &fx.assertion_for("ben", "pay", "b-1", true))
        .await
        .unwrap();
    assert!(granted.single_use);
    let token = client
        .auth()
        .elevated_access_token(scopes(&["pay"]))
        .unwrap();
    assert_eq!(claims_of(&token)["singleUse"], true);
    assert_eq!(client.auth().elevated_access_token(scopes(&["pay"])), None);
}

#[tokio::test]
async fn an_elevated_token_is_dropped_when_it_expires() {
    let fx = Fixture::start().await;
    let (client, clock) = signed_in_client(&fx, "cleo").await;
    step_up(&client, &fx.assertion_for("cleo", "pay", "c-1", false))
        .await
        .unwrap();
    fx.pass_time(&clock, DEFAULT_ELEVATED_TOKEN_TTL - Duration::from_secs(10));
    assert!(
        client
            .auth()
            .elevated_access_token(scopes(&["pay"]))
            .is_some()
    );
    fx.pass_time(&clock, Duration::from_secs(10));
    assert_eq!(client.auth().elevated_access_token(scopes(&["pay"])), None);
    assert!(client.auth().session().is_some(), "the session outlives it");
}

#[tokio::test]
async fn sign_out_forgets_every_elevated_token() {
    let fx = Fixture::start().await;
    let (client, _clock) = signed_in_client(&fx, "dora").await;
    step_up(&client, &fx.assertion_for("dora", "pay", "d-1", false))
        .await
        .unwrap();
    client.auth().sign_out().await;
    sign_in(&client, &fx.jwt_for("dora"), "dora").await.unwrap();
    assert_eq!(client.auth().elevated_access_token(scopes(&["pay"])), None);
}

#[tokio::test]
async fn an_elevated_token_survives_a_refresh_of_its_session() {
    let fx = Fixture::start().await;
    let (client, clock) = signed_in_client(&fx, "dan").await;
    step_up(&client, &fx.assertion_for("dan", "pay", "dn-1", false))
        .await
        .unwrap();
    fx.pass_time(&clock, Duration::from_secs(5));
    client.auth().refresh().await.unwrap();
    assert!(
        client
            .auth()
            .elevated_access_token(scopes(&["pay"]))
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_while_a_step_up_is_in_flight_keeps_no_elevated_token() {
    let fx = Fixture::start().await;
    let (client, _clock) = signed_in_client(&fx, "dina").await;
    let (hold, in_flight) = step_up_held_in_flight(&fx, &client, "dina", "di-1").await;

    client.auth().sign_out().await;
    hold.release();

    assert_eq!(
        in_flight.await.unwrap().unwrap_err(),
        ByoaError::NotSignedIn
    );
    sign_in(&client, &fx.jwt_for("dina"), "dina").await.unwrap();
    assert_eq!(client.auth().elevated_access_token(scopes(&["pay"])), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sign_in_while_a_step_up_is_in_flight_makes_it_fail_as_session_changed() {
    let fx = Fixture::start().await;
    let (client, _clock) = signed_in_client(&fx, "dirk").await;
    let (hold, in_flight) = step_up_held_in_flight(&fx, &client, "dirk", "dk-1").await;

    sign_in(&client, &fx.jwt_for("dirk"), "dirk").await.unwrap();
    hold.release();

    assert_eq!(
        in_flight.await.unwrap().unwrap_err(),
        ByoaError::SessionChanged
    );
    assert_eq!(client.auth().elevated_access_token(scopes(&["pay"])), None);
}

#[tokio::test]
async fn a_step_up_for_another_user_is_refused_on_the_device() {
    let fx = Fixture::start().await;
    let (client, _clock) = signed_in_client(&fx, "eve").await;
    let assertion = fx.assertion_for("mallory", "pay", "e-1", false);
    let error = step_up(&client, &assertion).await.unwrap_err();
    assert!(
        matches!(&error, ByoaError::ExternalUserIdMismatch { jwt_sub, external_user_id }
            if jwt_sub == "mallory" && external_user_id == "eve"),
        "{error:?}"
    );
    assert_eq!(fx.requests(VERIFY), 0, "nothing was sent");
    assert_no_token_in(&error, &assertion);
}

#[tokio::test]
async fn a_replayed_assertion_is_refused_as_replayed() {
    let fx = Fixture::start().await;
    let (client, _clock) = signed_in_client(&fx, "finn").await;
    let assertion = fx.assertion_for("finn", "pay", "f-1", false);
    step_up(&client, &assertion).await.unwrap();
    for replay in [assertion, fx.assertion_for("finn", "pay", "f-1", false)] {
        let error = step_up(&client, &replay).await.unwrap_err();
        assert!(
            matches!(
                error,
                ByoaError::ExternalAuthRejected {
                    reason: RejectionReason::Replayed,
                    ..
                }
            ),
            "{error:?}"
        );
        assert_no_token_in(&error, &replay);
    }
    assert_eq!(fx.requests(VERIFY), 3);
    assert!(
        client.auth().session().is_some(),
        "a refused step-up keeps the session"
    );
}

#[tokio::test]
async fn an_assertion_with_a_bad_signature_is_refused_by_dynamic() {
    let fx = Fixture::start().await;
    let (client, _clock) = signed_in_client(&fx, "gus").await;
    let assertion = fx.assertion_for("gus", "pay", "g-1", false);
    let (signed, signature) = assertion.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{signed}.{flipped}{}", &signature[1..]);
    let error = step_up(&client, &tampered).await.unwrap_err();
    assert!(
        matches!(
            error,
            ByoaError::ExternalAuthRejected {
                reason: RejectionReason::Signature,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(client.auth().elevated_access_token(scopes(&["pay"])), None);
}

#[tokio::test]
async fn an_expired_or_incomplete_assertion_is_refused_before_sending() {
    let fx = Fixture::start().await;
    let (client, _clock) = signed_in_client(&fx, "hana").await;
    let mut expired = fx.issuer.claims_for("hana", Duration::from_secs(60));
    expired["exp"] = (expired["iat"].as_i64().unwrap() - 3600).into();
    expired["scope"] = "pay".into();
    expired["jti"] = "h-1".into();
    let error = step_up(&client, &fx.issuer.mint(&expired))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "jwt_expired", "{error}");

    for claim in ["scope", "jti"] {
        let mut claims = fx.issuer.claims_for("hana", Duration::from_secs(60));
        claims["scope"] = "pay".into();
        claims["jti"] = "h-2".into();
        claims.as_object_mut().unwrap().remove(claim);
        let error = step_up(&client, &fx.issuer.mint(&claims))
            .await
            .unwrap_err();
        assert_eq!(
            error,
            ByoaError::MissingClaim {
                claim: claim.into()
            }
        );
    }
    assert_eq!(fx.requests(VERIFY), 0);
}

#[tokio::test]
async fn a_step_up_while_signed_out_is_not_signed_in_and_sends_nothing() {
    let fx = Fixture::start().await;
    let (client, _clock) = manual_client(&fx);
    client.auth().restore().await;
    let error = step_up(&client, &fx.assertion_for("ivy", "pay", "i-1", false))
        .await
        .unwrap_err();
    assert_eq!(error, ByoaError::NotSignedIn);
    assert_eq!(fx.requests(VERIFY), 0);
}

#[tokio::test]
async fn a_step_up_refreshes_a_bearer_about_to_expire_first() {
    let fx = Fixture::start().await;
    let (client, clock) = signed_in_client(&fx, "jack").await;
    fx.pass_time(&clock, SESSION_TTL - Duration::from_secs(10));
    step_up(&client, &fx.assertion_for("jack", "pay", "j-1", false))
        .await
        .unwrap();
    assert_eq!(fx.requests(REFRESH), 1);
    assert_eq!(fx.requests(VERIFY), 1);
}

// --- access_token ---

#[tokio::test]
async fn access_token_returns_the_current_bearer_while_it_outlives_min_ttl() {
    let fx = Fixture::start().await;
    let (client, clock) = signed_in_client(&fx, "kai").await;
    let signed_in_with = bearer(&client);
    assert_eq!(
        client
            .auth()
            .access_token(AccessTokenOptions::default())
            .await
            .unwrap(),
        signed_in_with
    );
    fx.pass_time(&clock, SESSION_TTL - Duration::from_secs(120));
    assert_eq!(
        access_token(&client, 60, false).await.unwrap(),
        signed_in_with
    );
    assert_eq!(fx.requests(REFRESH), 0);
}

#[tokio::test]
async fn access_token_refreshes_a_bearer_that_would_expire_within_min_ttl() {
    let fx = Fixture::start().await;
    let (client, clock) = signed_in_client(&fx, "lia").await;
    let old = bearer(&client);
    fx.pass_time(&clock, SESSION_TTL - Duration::from_secs(30));

    let fresh = access_token(&client, 60, false).await.unwrap();

    assert_ne!(fresh, old);
    assert_eq!(fresh, bearer(&client), "the refreshed session is kept");
    assert_eq!(fx.requests(REFRESH), 1);
    assert_eq!(access_token(&client, 60, false).await.unwrap(), fresh);
    assert_eq!(fx.requests(REFRESH), 1, "the new token is fresh enough");
}

#[tokio::test]
async fn force_refresh_returns_a_newer_token_even_when_the_current_one_is_fresh() {
    let fx = Fixture::start().await;
    let (client, clock) = signed_in_client(&fx, "milo").await;
    let old = bearer(&client);
    fx.pass_time(&clock, Duration::from_secs(5));
    let forced = access_token(&client, 60, true).await.unwrap();
    assert_ne!(forced, old);
    assert_eq!(fx.requests(REFRESH), 1);
}

#[tokio::test]
async fn a_min_ttl_longer_than_the_session_does_not_make_every_call_refresh() {
    let fx = Fixture::start().await;
    let (client, _clock) = signed_in_client(&fx, "nia").await;
    let a_day = 24 * 60 * 60;
    for _ in 0..3 {
        access_token(&client, a_day, false).await.unwrap();
    }
    assert_eq!(
        fx.requests(REFRESH),
        0,
        "a fresh session counts as fresh enough"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_callers_near_expiry_share_one_refresh() {
    let fx = Fixture::start().await;
    let (client, clock) = signed_in_client(&fx, "omar").await;
    fx.pass_time(&clock, SESSION_TTL - Duration::from_secs(20));
    let hold = fx.emulator.hold(REFRESH);

    let callers: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { access_token(&client, 60, false).await })
        })
        .collect();
    fx.wait_for_request(REFRESH).await;
    hold.release();
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.unwrap().unwrap());
    }

    assert_eq!(fx.requests(REFRESH), 1, "one refresh for 100 callers");
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "all got the same token"
    );
    assert_eq!(tokens[0], bearer(&client));
}

#[tokio::test]
async fn access_token_fails_typed_and_ends_the_session_when_dynamic_refuses_the_refresh() {
    let fx = Fixture::start().await;
    let (client, clock) = signed_in_client(&fx, "pia").await;
    let recorder = Recorder::attach(&client);
    fx.emulator.revoke_all_sessions(ENV);
    fx.pass_time(&clock, SESSION_TTL - Duration::from_secs(30));

    let error = access_token(&client, 60, false).await.unwrap_err();

    assert_eq!(error.code(), "unauthorized", "{error}");
    recorder
        .wait_for("signed out as revoked", |s| {
            *s == AuthState::SignedOut {
                reason: Some(SignOutReason::Revoked),
            }
        })
        .await;
    assert_eq!(
        access_token(&client, 60, false).await.unwrap_err(),
        ByoaError::NotSignedIn
    );
}

#[tokio::test]
async fn access_token_while_signed_out_is_not_signed_in() {
    let fx = Fixture::start().await;
    let (client, _clock) = manual_client(&fx);
    assert_eq!(
        access_token(&client, 60, false).await.unwrap_err(),
        ByoaError::NotSignedIn
    );
    assert_eq!(fx.requests(REFRESH), 0);
}
