//! The session lifecycle through the real client, over loopback sockets, against the emulator:
//! persistence and restore, locked storage, refresh (manual and automatic), expiry under a
//! skewed device clock, sign-out, concurrency, several environments, the JWT provider and the
//! check of Dynamic's token against the environment's keys.
//!
//! Time is a `ManualClock`: no test waits for real time to pass. Where a test waits, it waits
//! for an effect (a state heard by a listener), with a bound that only guards against a hang.

mod support;

use dynamic_byoa::ClientDependencies;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use dynamic_byoa::clock::{Clock, ManualClock};
use dynamic_byoa::{
    AuthState, ByoaError, ClientConfig, DynamicClient, ExternalJwtProvider, FileStorage,
    MemoryStorage, ProviderError, SessionStorage, SignInWithExternalJwtParams, SignOutReason,
    StorageError,
};
use dynamic_byoa_emulator::{Emulator, EmulatorConfig, EnvironmentConfig, Fault, SigningKey};
use serde_json::json;
use support::*;

const REFRESH: &str = "refresh";
const REVOKE: &str = "revoke";
const SIGNIN: &str = "externalAuth/signin";
const JWKS: &str = ".well-known/jwks";

fn memory() -> Arc<dyn SessionStorage> {
    Arc::new(MemoryStorage::new())
}

fn clock_at_offset(seconds: i64) -> Arc<ManualClock> {
    let now = SystemTime::now();
    let start = if seconds >= 0 {
        now + Duration::from_secs(seconds as u64)
    } else {
        now - Duration::from_secs(seconds.unsigned_abs())
    };
    Arc::new(ManualClock::new(start))
}

fn signed_out(reason: SignOutReason) -> AuthState {
    AuthState::SignedOut {
        reason: Some(reason),
    }
}

fn is_signed_in(state: &AuthState) -> bool {
    state.is_signed_in()
}

fn expires_at(client: &DynamicClient) -> SystemTime {
    let ms = client.auth().session().expect("signed in").expires_at_ms;
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms as u64)
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dynamic-byoa-test-{name}-{}-{:?}",
        std::process::id(),
        SystemTime::now()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

// --- Persistence and restore ---

#[tokio::test]
async fn a_restarted_app_restores_its_session_from_storage_without_the_network() {
    let fx = Fixture::start().await;
    let dir = temp_dir("restart");
    let first = client_on_storage(fx.config(), Arc::new(FileStorage::new(&dir)));
    first.auth().restore().await;
    let session = sign_in(&first, &fx.jwt_for("ruth"), "ruth").await.unwrap();
    let bearer = first.auth().tokens().unwrap().bearer_token();
    drop(first);

    // The "next launch" points at a port where nothing listens: restore needs no network.
    let offline = ClientConfig::new(ENV)
        .with_api_base_url(format!("http://127.0.0.1:{}/api/v0", closed_port()));
    let second = client_on_storage(offline, Arc::new(FileStorage::new(&dir)));
    let state = second.auth().restore().await;
    assert_eq!(
        state,
        AuthState::SignedIn {
            session: session.clone()
        }
    );
    assert_eq!(second.auth().tokens().unwrap().bearer_token(), bearer);
    assert_eq!(fx.requests(SIGNIN), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_locked_keychain_is_not_signed_out_and_nothing_is_lost_when_it_unlocks() {
    let fx = Fixture::start().await;
    let keychain = SimulatedKeychain::new();
    let first = client_on_storage(fx.config(), keychain.clone());
    first.auth().restore().await;
    sign_in(&first, &fx.jwt_for("lena"), "lena").await.unwrap();
    drop(first);
    let stored = keychain
        .peek(&session_key(ENV))
        .expect("the session was stored");

    // Launched before first unlock (iOS prewarming): the keychain refuses to read.
    keychain.set_locked(true);
    let client = client_on_storage(fx.config(), keychain.clone());
    let recorder = Recorder::attach(&client);
    let state = client.auth().restore().await;
    assert!(
        matches!(state, AuthState::StorageUnavailable { .. }),
        "{state:?}"
    );
    assert!(client.auth().session().is_none());
    let error = client.auth().refresh().await.unwrap_err();
    assert_eq!(
        error.code(),
        "storage_unavailable",
        "not `not_signed_in`: {error}"
    );
    assert_eq!(
        keychain.peek(&session_key(ENV)),
        Some(stored),
        "the record is untouched"
    );

    keychain.set_locked(false);
    let state = client.auth().restore().await;
    assert!(state.is_signed_in(), "{state:?}");
    assert_eq!(
        client
            .auth()
            .session()
            .unwrap()
            .user
            .external_user_id
            .as_deref(),
        Some("lena")
    );
    assert!(
        !recorder
            .states()
            .iter()
            .any(|s| matches!(s, AuthState::SignedOut { .. })),
        "never reported signed out: {:?}",
        recorder.states()
    );
}

#[tokio::test]
async fn a_broken_keystore_is_reported_as_unavailable_never_as_signed_out() {
    let fx = Fixture::start().await;
    let keychain = SimulatedKeychain::new();
    keychain.put(&session_key(ENV), "{}");
    keychain.set_broken(true);
    let client = client_on_storage(fx.config(), keychain.clone());
    let state = client.auth().restore().await;
    assert!(
        matches!(state, AuthState::StorageUnavailable { .. }),
        "{state:?}"
    );
    assert!(
        keychain.peek(&session_key(ENV)).is_some(),
        "never deleted after a failed read"
    );
}

#[tokio::test]
async fn a_corrupt_or_unknown_version_record_reads_as_storage_corrupt_and_is_kept() {
    for garbage in ["{not json", r#"{"version": 999, "token": "x"}"#] {
        let keychain = SimulatedKeychain::new();
        keychain.put(&session_key(ENV), garbage);
        let client = client_on_storage(ClientConfig::new(ENV), keychain.clone());
        let state = client.auth().restore().await;
        assert_eq!(
            state,
            signed_out(SignOutReason::StorageCorrupt),
            "{garbage}"
        );
        assert_eq!(keychain.peek(&session_key(ENV)).as_deref(), Some(garbage));
    }
}

const GOLDEN_V1: &str = include_str!("golden/session-record-v1.json");
const GOLDEN_V2: &str = include_str!("golden/session-record-v2.json");

#[tokio::test]
async fn a_version_1_record_restores_and_is_upgraded_in_place() {
    let keychain = SimulatedKeychain::new();
    keychain.put(&session_key(ENV), GOLDEN_V1.trim_end());
    let client = client_on_storage(ClientConfig::new(ENV), keychain.clone());
    let AuthState::SignedIn { session } = client.auth().restore().await else {
        panic!("a version 1 record restores");
    };
    assert_eq!(session.user.external_user_id.as_deref(), Some("user-123"));
    assert_eq!(session.user.scopes, ["user:basic"]);
    assert_eq!(session.expires_at_ms, 4_102_444_800_000);
    let tokens = client.auth().tokens().expect("the tokens came back");
    assert_eq!(tokens.bearer_token(), "golden.bearer.token");
    assert_eq!(
        keychain.peek(&session_key(ENV)).as_deref(),
        Some(GOLDEN_V2.trim_end()),
        "rewritten as the current version"
    );
}

#[tokio::test]
async fn a_record_of_a_newer_version_is_kept_and_reported_not_signed_out() {
    let newer = GOLDEN_V2
        .trim_end()
        .replace(r#""version":2"#, r#""version":3"#);
    let keychain = SimulatedKeychain::new();
    keychain.put(&session_key(ENV), &newer);
    let client = client_on_storage(ClientConfig::new(ENV), keychain.clone());
    let state = client.auth().restore().await;
    let AuthState::StorageUnavailable {
        error: StorageError::Failed { detail },
    } = &state
    else {
        panic!("a newer record reads as an unusable store, not signed out: {state:?}");
    };
    assert!(detail.contains("record version 3"), "{detail}");
    assert_eq!(
        keychain.peek(&session_key(ENV)),
        Some(newer),
        "never deleted"
    );
}

#[tokio::test]
async fn a_fresh_install_discards_a_session_left_by_a_previous_install() {
    let fx = Fixture::start().await;
    let keychain = SimulatedKeychain::new();
    let first = client_on_storage(fx.config(), keychain.clone());
    sign_in(&first, &fx.jwt_for("gus"), "gus").await.unwrap();
    drop(first);

    let mut reinstalled = fx.config();
    reinstalled.fresh_install = true;
    let client = client_on_storage(reinstalled, keychain.clone());
    assert_eq!(
        client.auth().restore().await,
        signed_out(SignOutReason::FreshInstall)
    );
    assert_eq!(keychain.peek(&session_key(ENV)), None);
}

#[tokio::test]
async fn a_session_found_expired_at_start_is_signed_out_as_expired_and_deleted() {
    let fx = Fixture::start().await;
    let keychain = SimulatedKeychain::new();
    let clock = clock_at_offset(0);
    let first = fx.client_with(fx.config(), keychain.clone(), clock.clone());
    sign_in(&first, &fx.jwt_for("ivy"), "ivy").await.unwrap();
    drop(first);

    fx.pass_time(&clock, Duration::from_secs(3 * 3600));
    let client = fx.client_with(fx.config(), keychain.clone(), clock.clone());
    assert_eq!(
        client.auth().restore().await,
        signed_out(SignOutReason::Expired)
    );
    assert_eq!(keychain.peek(&session_key(ENV)), None);
}

// --- Refresh ---

#[tokio::test]
async fn refresh_extends_the_session_and_replaces_the_stored_record() {
    let fx = Fixture::start().await;
    let keychain = SimulatedKeychain::new();
    let mut config = fx.config();
    config.auto_refresh = Some(false);
    let client = client_on_storage(config, keychain.clone());
    sign_in(&client, &fx.jwt_for("rob"), "rob").await.unwrap();
    let expiry = expires_at(&client);
    let writes = keychain.writes();

    let refreshed = client.auth().refresh().await.unwrap();
    assert_eq!(refreshed.user.external_user_id.as_deref(), Some("rob"));
    assert!(refreshed.expires_at_ms >= epoch_ms(expiry));
    assert_eq!(keychain.writes(), writes + 1, "the record is replaced");
    assert_eq!(fx.requests(REFRESH), 1);
}

#[tokio::test]
async fn a_401_on_refresh_signs_out_with_refresh_unauthorized() {
    let fx = Fixture::start().await;
    let keychain = SimulatedKeychain::new();
    let client = client_on_storage(fx.config(), keychain.clone());
    sign_in(&client, &fx.jwt_for("una"), "una").await.unwrap();
    fx.emulator.inject_faults(
        REFRESH,
        vec![Fault::status(401).with_json(&json!({"error": "Invalid session token"}))],
    );
    let error = client.auth().refresh().await.unwrap_err();
    assert_eq!(error.code(), "unauthorized");
    assert_eq!(
        client.auth().state(),
        signed_out(SignOutReason::RefreshUnauthorized)
    );
    assert_eq!(
        keychain.peek(&session_key(ENV)),
        None,
        "the record is deleted"
    );
}

#[tokio::test]
async fn a_revoked_session_signs_out_as_revoked_on_refresh() {
    let fx = Fixture::start().await;
    let client = fx.client();
    sign_in(&client, &fx.jwt_for("vic"), "vic").await.unwrap();
    fx.emulator.revoke_all_sessions(ENV);
    assert_eq!(
        client.auth().refresh().await.unwrap_err().code(),
        "unauthorized"
    );
    assert_eq!(client.auth().state(), signed_out(SignOutReason::Revoked));
}

#[tokio::test]
async fn a_refresh_that_fails_on_the_network_keeps_the_session() {
    let fx = Fixture::start().await;
    let client = fx.client();
    sign_in(&client, &fx.jwt_for("nia"), "nia").await.unwrap();
    fx.emulator.inject_faults(REFRESH, vec![Fault::status(500)]);
    assert_eq!(
        client.auth().refresh().await.unwrap_err().code(),
        "server_error"
    );
    assert!(client.auth().state().is_signed_in());
}

#[tokio::test]
async fn concurrent_refreshes_share_one_request() {
    let fx = Fixture::start().await;
    let client = fx.client();
    sign_in(&client, &fx.jwt_for("ray"), "ray").await.unwrap();
    let hold = fx.emulator.hold(REFRESH);
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.auth().refresh().await })
        })
        .collect();
    fx.wait_for_request(REFRESH).await;
    hold.release();
    for caller in callers {
        caller.await.unwrap().unwrap();
    }
    assert_eq!(fx.requests(REFRESH), 1);
}

#[tokio::test]
async fn automatic_refresh_fires_before_expiry_and_stops_after_sign_out() {
    let fx = Fixture::start().await;
    let clock = clock_at_offset(0);
    let client = fx.client_with(fx.config(), memory(), clock.clone());
    let recorder = Recorder::attach(&client);
    sign_in(&client, &fx.jwt_for("amy"), "amy").await.unwrap();
    let first_expiry = expires_at(&client);
    assert_eq!(fx.requests(REFRESH), 0);

    // Five minutes (the default margin) before expiry, plus a second: the refresh is due.
    let until_due = first_expiry
        .duration_since(clock.now())
        .unwrap()
        .saturating_sub(Duration::from_secs(299));
    fx.pass_time(&clock, until_due);
    recorder
        .wait_for("a refreshed session", |s| match s {
            AuthState::SignedIn { session } => session.expires_at_ms > epoch_ms(first_expiry),
            _ => false,
        })
        .await;
    assert_eq!(fx.requests(REFRESH), 1);
    assert!(client.auth().state().is_signed_in());

    client.auth().sign_out().await;
    // Signed out, the scheduler has nothing to wait for: no sleeper remains on the clock, so
    // moving time on cannot trigger anything.
    wait_until("the scheduler stops waiting on the clock", || {
        clock.sleepers() == 0
    })
    .await;
    fx.pass_time(&clock, Duration::from_secs(48 * 3600));
    assert_eq!(fx.requests(REFRESH), 1);
    assert_eq!(client.auth().state(), signed_out(SignOutReason::UserIntent));
}

#[tokio::test]
async fn a_short_session_is_refreshed_half_way_and_never_in_a_loop() {
    // One-minute sessions: the five-minute margin is capped at half the lifetime.
    let fx = Fixture::start_with(|env| env.session_ttl = Duration::from_secs(60)).await;
    let clock = clock_at_offset(0);
    let client = fx.client_with(fx.config(), memory(), clock.clone());
    sign_in(&client, &fx.jwt_for("tim"), "tim").await.unwrap();
    let signed_in_at = fx.emulator.now();
    wait_until("the scheduler waits", || clock.sleepers() == 1).await;
    fx.pass_time(&clock, Duration::from_secs(25));
    fx.pass_time(&clock, Duration::from_secs(6));
    wait_until("a refresh at half-way", || fx.requests(REFRESH) == 1).await;
    // When it arrived (on the emulator's clock) proves it did not come early, after the first
    // step of 25 s: no negative check that could miss a late, premature wake.
    let refreshed_at = fx.emulator.request_times(ENV, REFRESH)[0];
    let after = refreshed_at.duration_since(signed_in_at).unwrap();
    assert!(
        after >= Duration::from_secs(29),
        "refreshed {after:?} after sign-in"
    );

    // The next refresh is half a lifetime later again, not at once.
    wait_until("the scheduler waits again", || clock.sleepers() == 1).await;
    fx.pass_time(&clock, Duration::from_secs(31));
    wait_until("the second refresh", || fx.requests(REFRESH) == 2).await;
    let times = fx.emulator.request_times(ENV, REFRESH);
    let gap = times[1].duration_since(times[0]).unwrap();
    assert!(
        gap >= Duration::from_secs(29),
        "second refresh {gap:?} after the first"
    );
}

#[tokio::test]
async fn dropping_the_client_stops_its_background_task() {
    let fx = Fixture::start().await;
    let clock = clock_at_offset(0);
    let client = fx.client_with(fx.config(), memory(), clock.clone());
    sign_in(&client, &fx.jwt_for("dot"), "dot").await.unwrap();
    wait_until("the scheduler waits for the refresh", || {
        clock.sleepers() == 1
    })
    .await;
    drop(client);
    wait_until("the scheduler ends with the client", || {
        clock.sleepers() == 0
    })
    .await;
}

#[tokio::test]
async fn a_failing_automatic_refresh_backs_off_then_the_session_expires() {
    let fx = Fixture::start().await;
    let clock = clock_at_offset(0);
    let client = fx.client_with(fx.config(), memory(), clock.clone());
    let recorder = Recorder::attach(&client);
    sign_in(&client, &fx.jwt_for("bo"), "bo").await.unwrap();
    let expiry = expires_at(&client);
    fx.emulator
        .inject_faults(REFRESH, vec![Fault::status(500); 50]);

    fx.pass_time(&clock, until(&clock, expiry - Duration::from_secs(299)));
    wait_until("a first refresh attempt", || fx.requests(REFRESH) == 1).await;
    wait_until("the scheduler waits again", || clock.sleepers() == 1).await;
    fx.pass_time(&clock, Duration::from_secs(5));
    fx.pass_time(&clock, Duration::from_secs(5));
    wait_until("a retry", || fx.requests(REFRESH) == 2).await;
    // Proven by when the requests arrived on the emulator's clock, not by their absence.
    let times = fx.emulator.request_times(ENV, REFRESH);
    let pause = times[1].duration_since(times[0]).unwrap();
    assert!(
        pause >= Duration::from_secs(10),
        "retried after {pause:?}, not the 10 s backoff"
    );
    wait_until("the scheduler waits again", || clock.sleepers() == 1).await;
    fx.pass_time(&clock, Duration::from_secs(20));
    wait_until("a second retry", || fx.requests(REFRESH) == 3).await;
    let times = fx.emulator.request_times(ENV, REFRESH);
    let pause = times[2].duration_since(times[1]).unwrap();
    assert!(
        pause >= Duration::from_secs(20),
        "then after {pause:?}: the backoff doubles"
    );

    fx.pass_time(&clock, until(&clock, expiry + Duration::from_secs(1)));
    recorder
        .wait_for("expiry", |s| *s == signed_out(SignOutReason::Expired))
        .await;
}

// --- Expiry and clock skew ---

#[tokio::test]
async fn a_device_clock_off_by_an_hour_either_way_still_expires_on_server_time() {
    for skew in [3600, -3600] {
        let fx = Fixture::start().await;
        let clock = clock_at_offset(skew);
        let mut config = fx.config();
        config.auto_refresh = Some(false);
        let client = fx.client_with(config, memory(), clock.clone());
        let recorder = Recorder::attach(&client);
        // An hour-long JWT, which the device, an hour off, would judge expired (or issued in
        // the future): the client asks the server for the time before it judges.
        sign_in(&client, &fx.jwt_for("sam"), "sam")
            .await
            .unwrap_or_else(|e| panic!("skew {skew}: {e}"));
        let server_expiry = expires_at(&client);
        let device_expiry = if skew > 0 {
            server_expiry + Duration::from_secs(skew as u64)
        } else {
            server_expiry - Duration::from_secs(skew.unsigned_abs())
        };

        fx.pass_time(
            &clock,
            until(&clock, device_expiry - Duration::from_secs(30)),
        );
        assert!(
            client.auth().session().is_some(),
            "skew {skew}: not expired early"
        );
        assert!(client.auth().state().is_signed_in());

        fx.pass_time(&clock, Duration::from_secs(60));
        assert!(
            client.auth().session().is_none(),
            "skew {skew}: no dead session handed out"
        );
        assert!(client.auth().tokens().is_none());
        recorder
            .wait_for("expiry", |s| *s == signed_out(SignOutReason::Expired))
            .await;
    }
}

#[tokio::test]
async fn a_device_clock_changed_after_calibration_does_not_end_a_live_session() {
    let fx = Fixture::start().await;
    let clock = clock_at_offset(0);
    let client = fx.client_with(fx.config(), memory(), clock.clone());
    let recorder = Recorder::attach(&client);
    sign_in(&client, &fx.jwt_for("cal"), "cal").await.unwrap();
    let keys_fetched = fx.requests(JWKS);

    // The user sets the device clock a day ahead; on the server, no time has passed.
    clock.advance(Duration::from_secs(24 * 3600));
    assert!(
        client.auth().tokens().is_none(),
        "no token that may be dead is handed out"
    );
    wait_until("the server's time is asked for", || {
        fx.requests(JWKS) > keys_fetched
    })
    .await;
    wait_until("the session is usable again", || {
        client.auth().tokens().is_some()
    })
    .await;
    assert!(client.auth().state().is_signed_in());
    assert!(
        !recorder
            .states()
            .iter()
            .any(|s| matches!(s, AuthState::SignedOut { reason: Some(_) })),
        "{:?}",
        recorder.states()
    );
}

// --- Sign-out ---

#[tokio::test]
async fn sign_out_revokes_with_the_user_intent_reason_and_deletes_the_record() {
    let fx = Fixture::start().await;
    let keychain = SimulatedKeychain::new();
    let client = client_on_storage(fx.config(), keychain.clone());
    sign_in(&client, &fx.jwt_for("ola"), "ola").await.unwrap();
    let bearer = client.auth().tokens().unwrap().bearer_token();
    client.auth().sign_out().await;
    assert_eq!(client.auth().state(), signed_out(SignOutReason::UserIntent));
    assert_eq!(keychain.peek(&session_key(ENV)), None);
    assert_eq!(
        fx.emulator.last_logout_reason(ENV).as_deref(),
        Some("user-intent")
    );
    let status = dynamic_byoa_emulator::http_client()
        .unwrap()
        .get(format!("{}/sdk/{ENV}/session", fx.emulator.base_url()))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401, "the server no longer accepts the old bearer");
}

#[tokio::test]
async fn a_failed_revoke_still_signs_out_locally() {
    let fx = Fixture::start().await;
    let keychain = SimulatedKeychain::new();
    let client = client_on_storage(fx.config(), keychain.clone());
    sign_in(&client, &fx.jwt_for("pat"), "pat").await.unwrap();
    fx.emulator
        .inject_faults(REVOKE, vec![Fault::connection_drop(), Fault::status(500)]);
    client.auth().sign_out().await;
    assert_eq!(client.auth().state(), signed_out(SignOutReason::UserIntent));
    assert_eq!(keychain.peek(&session_key(ENV)), None);
    assert!(client.auth().tokens().is_none());
}

#[tokio::test]
async fn a_sign_in_in_flight_when_sign_out_starts_never_ends_signed_in() {
    let fx = Fixture::start().await;
    let client = fx.client();
    let hold = fx.emulator.hold(SIGNIN);
    let pending = {
        let (client, jwt) = (client.clone(), fx.jwt_for("zed"));
        tokio::spawn(async move { sign_in(&client, &jwt, "zed").await })
    };
    fx.wait_for_request(SIGNIN).await;
    client.auth().sign_out().await;
    hold.release();
    let outcome = pending.await.unwrap();
    assert_eq!(outcome.unwrap_err(), ByoaError::SignInCancelled);
    assert_eq!(client.auth().state(), signed_out(SignOutReason::UserIntent));
    wait_until("the discarded session is revoked", || {
        fx.requests(REVOKE) == 1
    })
    .await;
}

#[tokio::test]
async fn racing_sign_in_against_sign_out_never_ends_signed_in() {
    let fx = Fixture::start().await;
    for round in 0..15 {
        let client = fx.client();
        let jwt = fx.jwt_for("race");
        // The app calls sign-in (its future is polled once, as awaiting it would), then, at
        // varying points of the exchange, signs out.
        let mut pending = Box::pin(sign_in(&client, &jwt, "race"));
        let first_poll = poll_once(&mut pending).await;
        for _ in 0..round {
            tokio::task::yield_now().await;
        }
        client.auth().sign_out().await;
        // Either the sign-in finished before the sign-out started (and was then signed out),
        // or it was cancelled; never does it end signed in.
        let outcome = match first_poll {
            Some(outcome) => outcome,
            None => pending.await,
        };
        match outcome {
            Ok(_) | Err(ByoaError::SignInCancelled) => {}
            Err(other) => panic!("round {round}: {other}"),
        }
        assert_eq!(
            client.auth().state(),
            signed_out(SignOutReason::UserIntent),
            "round {round}"
        );
    }
}

// --- Concurrency and independence ---

#[tokio::test]
async fn fifty_concurrent_identical_sign_ins_make_one_request() {
    let fx = Fixture::start().await;
    let client = fx.client();
    let jwt = fx.jwt_for("dup");
    let hold = fx.emulator.hold(SIGNIN);
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let (client, jwt) = (client.clone(), jwt.clone());
            tokio::spawn(async move { sign_in(&client, &jwt, "dup").await })
        })
        .collect();
    fx.wait_for_request(SIGNIN).await;
    hold.release();
    let users: Vec<String> = futures_join(callers)
        .await
        .into_iter()
        .map(|r| r.expect("every caller gets the shared result").user.user_id)
        .collect();
    assert!(users.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(fx.requests(SIGNIN), 1);
}

#[tokio::test]
async fn a_caller_joining_an_identical_sign_in_brings_its_later_place_in_line() {
    // A (jwt1), then B (jwt2), then C (jwt1 again, sharing A's request): C started last, so
    // jwt1's user must end signed in whichever response arrives first.
    let fx = Fixture::start().await;
    // Whether C arrives before A's request is released is up to the scheduler (its call
    // crosses onto the library's runtime and awaits the store first): a round where C came
    // too late sends its own request, and must end the same way. At least one round must
    // have joined, or the test proved nothing.
    let mut joined = 0;
    for round in 0..8 {
        let client = fx.client();
        let (one, two) = (fx.jwt_for("one"), fx.jwt_for("two"));
        let before = fx.requests(SIGNIN);
        let hold = fx.emulator.hold(SIGNIN);
        let call = |jwt: &String, user: &'static str| {
            let (client, jwt) = (client.clone(), jwt.clone());
            tokio::spawn(async move { sign_in(&client, &jwt, user).await })
        };
        let a = call(&one, "one");
        wait_until("A's request", || fx.requests(SIGNIN) == before + 1).await;
        let b = call(&two, "two");
        wait_until("B's request", || fx.requests(SIGNIN) == before + 2).await;
        let c = call(&one, "one");
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        hold.release();
        let (a, b, c) = (a.await.unwrap(), b.await.unwrap(), c.await.unwrap());
        let sent = fx.requests(SIGNIN) - before;
        assert!(sent == 2 || sent == 3, "round {round}: {sent} requests");
        joined += usize::from(sent == 2);
        assert!(a.is_ok() && c.is_ok(), "round {round}: {a:?} {c:?}");
        assert!(
            matches!(b, Ok(_) | Err(ByoaError::SignInSuperseded)),
            "{b:?}"
        );
        let user = client.auth().session().unwrap().user.external_user_id;
        assert_eq!(user.as_deref(), Some("one"), "round {round}");
    }
    assert!(joined > 0, "C never joined A's request in 8 rounds");
}

#[tokio::test]
async fn two_environments_side_by_side_are_independent_even_on_one_store() {
    let issuer = dynamic_byoa_emulator::TestIssuer::start().await.unwrap();
    let environments = [ENV, OTHER_ENV]
        .map(|env| EnvironmentConfig::new(env, issuer.issuer(), issuer.jwks_url()))
        .to_vec();
    let emulator = Emulator::start(EmulatorConfig {
        environments,
        signing_key: Some(signing_key()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let store: Arc<dyn SessionStorage> = Arc::new(MemoryStorage::new());
    let client_for = |env: &str| {
        let config = ClientConfig::new(env).with_api_base_url(emulator.base_url());
        client_on_storage(config, store.clone())
    };
    let (a, b) = (client_for(ENV), client_for(OTHER_ENV));
    let jwt = |sub: &str| issuer.mint(&issuer.claims_for(sub, Duration::from_secs(600)));
    sign_in(&a, &jwt("ann"), "ann").await.unwrap();
    sign_in(&b, &jwt("ben"), "ben").await.unwrap();
    assert_eq!(a.auth().session().unwrap().user.environment_id, ENV);
    assert_eq!(b.auth().session().unwrap().user.environment_id, OTHER_ENV);

    a.auth().sign_out().await;
    assert!(
        b.auth().state().is_signed_in(),
        "signing out of one environment leaves the other"
    );
    assert!(b.auth().refresh().await.is_ok());

    let (a2, b2) = (client_for(ENV), client_for(OTHER_ENV));
    assert!(!a2.auth().restore().await.is_signed_in());
    let restored = b2.auth().restore().await;
    let AuthState::SignedIn { session } = restored else {
        panic!("{restored:?}")
    };
    assert_eq!(session.user.external_user_id.as_deref(), Some("ben"));
}

#[tokio::test]
async fn a_sign_in_as_another_user_replaces_the_session_and_revokes_the_old_one() {
    let fx = Fixture::start().await;
    let client = fx.client();
    let recorder = Recorder::attach(&client);
    sign_in(&client, &fx.jwt_for("first"), "first")
        .await
        .unwrap();
    sign_in(&client, &fx.jwt_for("second"), "second")
        .await
        .unwrap();
    recorder
        .wait_for("replaced", |s| *s == signed_out(SignOutReason::Replaced))
        .await;
    let last = recorder.states().last().cloned().unwrap();
    let AuthState::SignedIn { session } = last else {
        panic!("{last:?}")
    };
    assert_eq!(session.user.external_user_id.as_deref(), Some("second"));
    wait_until("the replaced session is revoked", || {
        fx.requests(REVOKE) == 1
    })
    .await;
}

// --- Listeners ---

#[tokio::test]
async fn a_listener_hears_every_change_in_order_until_removed() {
    let fx = Fixture::start().await;
    let client = fx.client();
    client.auth().restore().await;
    let recorder = Recorder::attach(&client);
    sign_in(&client, &fx.jwt_for("lou"), "lou").await.unwrap();
    client.auth().refresh().await.unwrap();
    client.auth().sign_out().await;
    let states = recorder.states();
    assert_eq!(
        states[0],
        AuthState::SignedOut { reason: None },
        "starts from the current state"
    );
    assert!(
        is_signed_in(&states[1]) && is_signed_in(&states[2]),
        "{states:?}"
    );
    assert_eq!(states[3], signed_out(SignOutReason::UserIntent));
    assert_eq!(states.len(), 4);

    let removed = Recorder::new_detached();
    let handle = client.auth().add_listener(removed.clone());
    handle.remove();
    sign_in(&client, &fx.jwt_for("lou"), "lou").await.unwrap();
    assert_eq!(removed.states().len(), 1, "only the initial state");
}

// --- The JWT provider ---

/// The app's provider, backed by the test issuer: hands out fresh JWTs for `user`.
struct IssuerProvider {
    jwts: std::sync::Mutex<Vec<String>>,
    user: String,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl ExternalJwtProvider for IssuerProvider {
    async fn fetch_external_jwt(&self) -> Result<SignInWithExternalJwtParams, ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let jwt = self
            .jwts
            .lock()
            .unwrap()
            .pop()
            .ok_or(ProviderError::InteractionRequired {
                detail: "no more tokens".into(),
            })?;
        Ok(params(&jwt, &self.user))
    }
}

fn provider_for(fx: &Fixture, user: &str) -> Arc<IssuerProvider> {
    let jwts = (0..3)
        .map(|_| {
            fx.issuer
                .mint(&fx.issuer.claims_for(user, Duration::from_secs(7200)))
        })
        .collect();
    Arc::new(IssuerProvider {
        jwts: std::sync::Mutex::new(jwts),
        user: user.to_owned(),
        calls: AtomicUsize::new(0),
    })
}

#[tokio::test]
async fn the_provider_re_exchanges_when_refresh_is_refused() {
    let fx = Fixture::start().await;
    let client = fx.client();
    let provider = provider_for(&fx, "pia");
    client
        .auth()
        .external()
        .set_jwt_provider(Some(provider.clone()));
    sign_in(&client, &fx.jwt_for("pia"), "pia").await.unwrap();
    let old = client.auth().tokens().unwrap().bearer_token();
    fx.emulator.revoke_all_sessions(ENV);

    let renewed = client
        .auth()
        .refresh()
        .await
        .expect("re-exchanged through the provider");
    assert_eq!(renewed.user.external_user_id.as_deref(), Some("pia"));
    assert_ne!(client.auth().tokens().unwrap().bearer_token(), old);
    assert_eq!(provider.calls.load(Ordering::SeqCst), 1);
    assert_eq!(fx.requests(SIGNIN), 2);
    assert!(
        client.auth().refresh().await.is_ok(),
        "the new session is live"
    );
}

#[tokio::test]
async fn the_provider_renews_a_session_found_expired_at_start() {
    // One-minute sessions: the emulator and the issuer run on real time, so the test moves the
    // device clock only a little past the session's end, not past the provider's JWTs.
    let fx = Fixture::start_with(|env| env.session_ttl = Duration::from_secs(60)).await;
    let keychain = SimulatedKeychain::new();
    let clock = clock_at_offset(0);
    let first = fx.client_with(fx.config(), keychain.clone(), clock.clone());
    sign_in(&first, &fx.jwt_for("eve"), "eve").await.unwrap();
    drop(first);

    fx.pass_time(&clock, Duration::from_secs(120));
    let provider: Arc<dyn ExternalJwtProvider> = provider_for(&fx, "eve");
    let client = DynamicClient::with_clock(
        fx.config(),
        ClientDependencies {
            storage: Some(keychain.clone()),
            jwt_provider: Some(provider),
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap();
    let recorder = Recorder::attach(&client);
    let state = client.auth().restore().await;
    assert!(state.is_signed_in(), "{state:?}");
    assert!(
        !recorder
            .states()
            .iter()
            .any(|s| matches!(s, AuthState::SignedOut { .. })),
        "no signed-out flicker: {:?}",
        recorder.states()
    );
}

#[tokio::test]
async fn a_provider_jwt_for_another_user_is_not_used() {
    let fx = Fixture::start().await;
    let client = fx.client();
    client
        .auth()
        .external()
        .set_jwt_provider(Some(provider_for(&fx, "mallory")));
    sign_in(&client, &fx.jwt_for("alice"), "alice")
        .await
        .unwrap();
    fx.emulator.revoke_all_sessions(ENV);
    assert!(client.auth().refresh().await.is_err());
    assert_eq!(client.auth().state(), signed_out(SignOutReason::Revoked));
    assert_eq!(fx.requests(SIGNIN), 1);
}

// --- The session token is checked against the environment's keys ---

#[tokio::test]
async fn a_session_token_not_signed_by_the_environment_key_is_refused_and_not_kept() {
    let fx = Fixture::start().await;
    let client = fx.client();
    sign_in(&client, &fx.jwt_for("kim"), "kim").await.unwrap();
    let kept = client.auth().tokens().unwrap().bearer_token();

    let forger = SigningKey::generate();
    let forged = forger.sign(&json!({"sub": "x", "environment_id": ENV, "exp": 4_000_000_000u64}));
    let body = json!({
        "user": {"id": "x", "projectEnvironmentId": ENV, "verifiedCredentials": []},
        "expiresAt": 4_000_000_000u64, "minifiedJwt": forged
    });
    fx.emulator
        .inject_faults(SIGNIN, vec![Fault::status(200).with_json(&body)]);
    let error = sign_in(&client, &fx.jwt_for("kim"), "kim")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "invalid_response", "{error}");
    assert_eq!(
        client.auth().tokens().unwrap().bearer_token(),
        kept,
        "the old session stays"
    );
}

#[tokio::test]
async fn the_environment_keys_are_fetched_once_and_cached() {
    let fx = Fixture::start().await;
    let client = fx.client();
    for user in ["a1", "a2", "a3"] {
        sign_in(&client, &fx.jwt_for(user), user).await.unwrap();
    }
    client.auth().refresh().await.unwrap();
    assert_eq!(fx.requests(JWKS), 1);
}

#[tokio::test]
async fn when_the_keys_cannot_be_fetched_the_sign_in_fails_and_nothing_is_kept() {
    let fx = Fixture::start().await;
    let client = fx.client();
    fx.emulator
        .inject_faults(JWKS, vec![Fault::status(500), Fault::status(500)]);
    let error = sign_in(&client, &fx.jwt_for("ned"), "ned")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "server_error");
    assert!(client.auth().session().is_none());
    wait_until("the unverified session is revoked", || {
        fx.requests(REVOKE) == 1
    })
    .await;
    sign_in(&client, &fx.jwt_for("ned"), "ned")
        .await
        .expect("works once the keys are back");
}

// --- helpers ---

/// How long from `clock`'s now until `at`.
fn until(clock: &ManualClock, at: SystemTime) -> Duration {
    at.duration_since(clock.now())
        .expect("a moment in the future")
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    results
}
