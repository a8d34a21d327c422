//! Device-bound sessions through the real client, over loopback, against the emulator: the
//! session key in the sign-in body and the token, the nonce-signed device headers on sign-in and
//! refresh, every refusal as its typed error, key rotation, restart, and the signature format
//! checked by an independent implementation (Python `cryptography`).
//!
//! No test waits for time to pass: nonce expiry is the emulator's `advance_time`.

mod support;

use dynamic_byoa::ClientDependencies;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use dynamic_byoa::{
    AuthState, ByoaError, ClientConfig, DeviceSignatureReason, DynamicClient, FileStorage,
    KeySigner, KeySignerError, MemoryStorage, SessionStorage, SoftwareKeySigner,
};
use dynamic_byoa_emulator::{EnvironmentConfig, Fault};
use serde_json::Value;
use support::*;

const NONCES: &str = "nonces";
const DEVICE_KEY: &str = "dynamic_2762a57b-faa4-41ce-9f16-abff9300e2c9_device_key";

fn requiring(env: &mut EnvironmentConfig) {
    env.require_device_signature = true;
}

/// What a wrapped signer should do wrong, to provoke each refusal.
#[derive(Clone, Copy, PartialEq)]
enum Misbehaviour {
    None,
    /// Flips a bit of every signature.
    Tamper,
    /// Signs with another key than the one whose public key it reports.
    SignWithAnotherKey,
}

/// A `KeySigner` over the software signer that records what it was asked to do, and can
/// misbehave (a test double at the port, standing in for a broken platform implementation).
struct RecordingSigner {
    inner: SoftwareKeySigner,
    storage: Arc<MemoryStorage>,
    misbehaviour: Mutex<Misbehaviour>,
    created: Mutex<Vec<String>>,
    deleted: Mutex<Vec<String>>,
    /// (nonce, signature) of every device signature.
    signed: Mutex<Vec<(String, Vec<u8>)>>,
}

impl RecordingSigner {
    fn new() -> Arc<Self> {
        let storage = Arc::new(MemoryStorage::new());
        Arc::new(Self {
            inner: SoftwareKeySigner::new(storage.clone()),
            storage,
            misbehaviour: Mutex::new(Misbehaviour::None),
            created: Mutex::default(),
            deleted: Mutex::default(),
            signed: Mutex::default(),
        })
    }

    fn misbehave(&self, how: Misbehaviour) {
        *self.misbehaviour.lock().unwrap() = how;
    }

    fn has_key(&self, name: &str) -> bool {
        self.storage.get(name.to_owned()).unwrap().is_some()
    }

    fn session_keys_created(&self) -> Vec<String> {
        let created = self.created.lock().unwrap();
        created
            .iter()
            .filter(|n| n.contains("_session_key_"))
            .cloned()
            .collect()
    }

    fn deleted(&self) -> Vec<String> {
        self.deleted.lock().unwrap().clone()
    }

    fn last_signed(&self) -> (String, Vec<u8>) {
        self.signed.lock().unwrap().last().cloned().expect("signed")
    }
}

impl KeySigner for RecordingSigner {
    fn get_or_create_key(&self, name: String) -> Result<String, KeySignerError> {
        if !self.has_key(&name) {
            self.created.lock().unwrap().push(name.clone());
        }
        self.inner.get_or_create_key(name)
    }

    fn sign(&self, name: String, message: Vec<u8>) -> Result<Vec<u8>, KeySignerError> {
        let how = *self.misbehaviour.lock().unwrap();
        let mut signature = if how == Misbehaviour::SignWithAnotherKey {
            self.inner.get_or_create_key("another".into())?;
            self.inner.sign("another".into(), message.clone())?
        } else {
            self.inner.sign(name, message.clone())?
        };
        if how == Misbehaviour::Tamper {
            signature[5] ^= 0x01;
        }
        let nonce = String::from_utf8(message).unwrap();
        self.signed.lock().unwrap().push((nonce, signature.clone()));
        Ok(signature)
    }

    fn delete_key(&self, name: String) -> Result<(), KeySignerError> {
        self.deleted.lock().unwrap().push(name.clone());
        self.inner.delete_key(name)
    }
}

fn bound_client(fx: &Fixture, signer: Arc<dyn KeySigner>) -> Arc<DynamicClient> {
    DynamicClient::new(
        fx.config(),
        ClientDependencies {
            storage: Some(Arc::new(MemoryStorage::new())),
            key_signer: Some(signer),
            ..Default::default()
        },
    )
    .expect("valid config")
}

/// A bound client (recording signer, memory storage) signed in as "ada".
async fn signed_in_bound(fx: &Fixture) -> (Arc<DynamicClient>, Arc<RecordingSigner>) {
    let signer = RecordingSigner::new();
    let client = bound_client(fx, signer.clone());
    sign_in(&client, &fx.jwt_for("ada"), "ada").await.unwrap();
    (client, signer)
}

/// The claims of the current session's access token.
fn token_claims(client: &DynamicClient) -> Value {
    let bearer = client.auth().tokens().expect("signed in").bearer_token();
    let payload = bearer.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn session_public_key(client: &DynamicClient) -> String {
    token_claims(client)["session_public_key"]
        .as_str()
        .expect("the token is bound to a session key")
        .to_owned()
}

fn device_key_of_session(fx: &Fixture, client: &DynamicClient) -> Option<String> {
    let sid = client.auth().session()?.user.session_id?;
    fx.emulator.session_device_key(ENV, &sid)
}

fn rejection(error: &ByoaError) -> DeviceSignatureReason {
    match error {
        ByoaError::DeviceSignatureRejected { reason, .. } => *reason,
        other => panic!("expected device_signature_rejected, got {other:?}"),
    }
}

// --- Bound sign-in and refresh ---

#[tokio::test]
async fn a_bound_sign_in_carries_a_session_key_the_token_echoes_and_a_device_signature() {
    let fx = Fixture::start_with(requiring).await;
    let (client, signer) = signed_in_bound(&fx).await;

    let created = signer.session_keys_created();
    assert_eq!(created.len(), 1, "one new session key per sign-in");
    let session_key = signer.get_or_create_key(created[0].clone()).unwrap();
    assert_eq!(session_public_key(&client), session_key);
    let device_key = signer.get_or_create_key(DEVICE_KEY.into()).unwrap();
    assert_eq!(device_key_of_session(&fx, &client), Some(device_key));
    assert_ne!(
        session_key,
        signer.get_or_create_key(DEVICE_KEY.into()).unwrap()
    );
    assert!(fx.requests(NONCES) >= 1, "nonces come from the server");
}

#[tokio::test]
async fn a_bound_session_refreshes_with_a_fresh_nonce_and_keeps_its_session_key() {
    let fx = Fixture::start_with(requiring).await;
    let (client, signer) = signed_in_bound(&fx).await;
    let bound = session_public_key(&client);
    let (first_nonce, _) = signer.last_signed();

    client.auth().refresh().await.expect("refresh accepted");
    assert_eq!(
        session_public_key(&client),
        bound,
        "refresh keeps the binding"
    );
    let (second_nonce, _) = signer.last_signed();
    assert_ne!(first_nonce, second_nonce, "each nonce is used once");
}

#[tokio::test]
async fn binding_the_session_key_can_be_turned_off_while_the_device_still_signs() {
    let fx = Fixture::start_with(requiring).await;
    let signer = RecordingSigner::new();
    let config = ClientConfig {
        bind_session_key: Some(false),
        ..fx.config()
    };
    let client = DynamicClient::new(
        config,
        ClientDependencies {
            storage: Some(Arc::new(MemoryStorage::new())),
            key_signer: Some(signer.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    sign_in(&client, &fx.jwt_for("ada"), "ada").await.unwrap();
    assert_eq!(token_claims(&client)["session_public_key"], Value::Null);
    assert!(signer.session_keys_created().is_empty());
    assert!(device_key_of_session(&fx, &client).is_some());
    client.auth().refresh().await.expect("refresh accepted");
}

#[tokio::test]
async fn without_the_flag_the_emulator_accepts_requests_without_device_headers() {
    let fx = Fixture::start().await;
    let client = fx.client();
    sign_in(&client, &fx.jwt_for("ada"), "ada").await.unwrap();
    client.auth().refresh().await.unwrap();
    assert_eq!(device_key_of_session(&fx, &client), None);
}

#[tokio::test]
async fn on_the_wire_the_sign_in_carries_the_contracts_body_and_headers() {
    use p256::ecdsa::signature::Verifier;
    // Every request gets this body: the nonce fetch succeeds, the sign-in does not decode
    // (it is captured, which is all this test needs).
    let nonces = serde_json::json!({"nonces": ["n-one", "n-two", "n-three", "n-four", "n-five"]});
    let server = CaptureServer::start(200, nonces.to_string()).await;
    let signer = RecordingSigner::new();
    let config = ClientConfig::new(ENV).with_api_base_url(server.base_url.clone());
    let client = DynamicClient::new(
        config,
        ClientDependencies {
            storage: Some(Arc::new(MemoryStorage::new())),
            key_signer: Some(signer.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let fx_issuer = dynamic_byoa_emulator::TestIssuer::start().await.unwrap();
    let jwt = fx_issuer.mint(&fx_issuer.claims_for("ada", Duration::from_secs(600)));
    let error = sign_in(&client, &jwt, "ada").await.unwrap_err();
    assert_eq!(error.code(), "invalid_response");

    let requests = server.requests();
    let signin = requests
        .iter()
        .find(|r| r.starts_with(&format!("POST /api/v0/sdk/{ENV}/externalAuth/signin")))
        .expect("the sign-in was sent");
    let header = |name: &str| {
        signin
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {signin}"))
            .to_owned()
    };
    let body: Value = serde_json::from_str(signin.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let session_key = header("x-dyn-session-public-key");
    assert_eq!(body["sessionPublicKey"], session_key.as_str());
    assert_eq!(session_key.len(), 66);
    assert_eq!(header("x-dynamic-device-nonce"), "n-one");
    let device_key = header("x-dynamic-device-publickey");
    assert_eq!(
        device_key,
        signer.get_or_create_key(DEVICE_KEY.into()).unwrap()
    );
    let signature = header("x-dynamic-device-signed-nonce");
    assert_eq!(signature.len(), 128, "hex of the raw 64-byte r||s");
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&unhex(&device_key)).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&unhex(&signature)).unwrap();
    assert!(key.verify(b"n-one", &signature).is_ok());
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

// --- Every refusal, as its typed error ---

#[tokio::test]
async fn a_client_without_a_signer_is_refused_where_device_signatures_are_required() {
    let fx = Fixture::start_with(requiring).await;
    let error = sign_in(&fx.client(), &fx.jwt_for("ada"), "ada")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "device_signature_rejected");
    assert_eq!(rejection(&error), DeviceSignatureReason::MissingHeaders);
}

#[tokio::test]
async fn a_tampered_signature_is_refused_and_the_session_is_not_kept() {
    let fx = Fixture::start_with(requiring).await;
    let signer = RecordingSigner::new();
    signer.misbehave(Misbehaviour::Tamper);
    let client = bound_client(&fx, signer.clone());
    let error = sign_in(&client, &fx.jwt_for("ada"), "ada")
        .await
        .unwrap_err();
    assert_eq!(rejection(&error), DeviceSignatureReason::InvalidSignature);
    assert!(client.auth().session().is_none());
    // The session key this attempt created is deleted again.
    let created = signer.session_keys_created();
    assert_eq!(signer.deleted(), created);
    assert!(!signer.has_key(&created[0]));
}

#[tokio::test]
async fn a_signature_by_another_key_than_the_one_sent_is_refused() {
    let fx = Fixture::start_with(|env| env.require_device_signature = false).await;
    let signer = RecordingSigner::new();
    signer.misbehave(Misbehaviour::SignWithAnotherKey);
    let client = bound_client(&fx, signer.clone());
    // Headers that are sent are verified even where they are not required.
    let error = sign_in(&client, &fx.jwt_for("ada"), "ada")
        .await
        .unwrap_err();
    assert_eq!(rejection(&error), DeviceSignatureReason::InvalidSignature);
}

#[tokio::test]
async fn a_refresh_from_another_device_is_refused_and_the_session_is_kept() {
    let fx = Fixture::start_with(requiring).await;
    let storage: Arc<dyn SessionStorage> = Arc::new(MemoryStorage::new());
    let first = DynamicClient::new(
        fx.config(),
        ClientDependencies {
            storage: Some(storage.clone()),
            key_signer: Some(RecordingSigner::new()),
            ..Default::default()
        },
    )
    .unwrap();
    first.auth().restore().await;
    sign_in(&first, &fx.jwt_for("ada"), "ada").await.unwrap();
    drop(first);

    // The stored session, copied to a device with other keys (a stolen backup).
    let elsewhere = DynamicClient::new(
        fx.config(),
        ClientDependencies {
            storage: Some(storage),
            key_signer: Some(RecordingSigner::new()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(elsewhere.auth().restore().await.is_signed_in());
    let error = elsewhere.auth().refresh().await.unwrap_err();
    assert_eq!(rejection(&error), DeviceSignatureReason::KeyMismatch);
    assert!(
        elsewhere.auth().session().is_some(),
        "a refused signature is not a 401: the session is not ended"
    );
}

#[tokio::test]
async fn a_reused_nonce_is_refused_and_the_request_is_signed_again_with_a_fresh_one() {
    let fx = Fixture::start_with(requiring).await;
    let (client, _signer) = signed_in_bound(&fx).await;
    // Every nonce the client holds has been presented before (a replayed capture, as the
    // server sees it).
    fx.emulator.spend_nonces(ENV);
    client
        .auth()
        .refresh()
        .await
        .expect("the pool was emptied and the refresh signed again with a fresh nonce");
    assert_eq!(fx.requests("refresh"), 2, "refused once, then accepted");
}

#[tokio::test]
async fn a_nonce_refused_again_after_the_fresh_attempt_is_a_typed_error_that_keeps_the_session() {
    let fx = Fixture::start_with(requiring).await;
    let (client, _signer) = signed_in_bound(&fx).await;
    let reused = dynamic_byoa_contract::ApiErrorBody::coded(
        dynamic_byoa_contract::DeviceSignatureRejection::ReusedNonce.message(),
        dynamic_byoa_contract::CODE_INVALID_DEVICE_SIGNATURE,
    );
    let refusal = Fault::status(422).with_json(&reused);
    fx.emulator
        .inject_faults("refresh", vec![refusal.clone(), refusal]);

    let error = client.auth().refresh().await.unwrap_err();

    assert_eq!(rejection(&error), DeviceSignatureReason::ReusedNonce);
    assert_eq!(fx.requests("refresh"), 2, "one fresh attempt, no more");
    assert!(
        client.auth().session().is_some(),
        "not a 401: the session is kept"
    );
}

#[tokio::test]
async fn an_expired_pooled_nonce_is_refused_and_the_request_is_signed_again_with_a_fresh_one() {
    let fx = Fixture::start_with(|env| {
        env.require_device_signature = true;
        env.nonce_ttl = Duration::from_secs(60);
    })
    .await;
    let (client, _signer) = signed_in_bound(&fx).await;
    // The client's pooled nonces outlive the server's (shorter) nonce lifetime.
    fx.emulator.advance_time(Duration::from_secs(120));
    let nonce_fetches = fx.requests("nonces");
    client
        .auth()
        .refresh()
        .await
        .expect("re-signed with a fresh nonce");
    assert_eq!(fx.requests("refresh"), 2, "refused once, then accepted");
    assert!(
        fx.requests("nonces") > nonce_fetches,
        "fresh nonces were fetched"
    );
}

#[tokio::test]
async fn a_replayed_sign_in_is_refused_because_its_nonce_was_spent() {
    let fx = Fixture::start_with(requiring).await;
    let signer = RecordingSigner::new();
    let client = bound_client(&fx, signer.clone());
    let jwt = fx.jwt_for("ada");
    sign_in(&client, &jwt, "ada").await.unwrap();
    let (nonce, signature) = signer.last_signed();
    let device_key = signer.get_or_create_key(DEVICE_KEY.into()).unwrap();

    // An attacker who captured the request (JWT and device headers) replays it.
    let signature = hex(&signature);
    let (status, body) = raw_post(
        &fx.emulator.base_url(),
        &format!("/sdk/{ENV}/externalAuth/signin"),
        &[
            ("x-dynamic-device-nonce", nonce.as_str()),
            ("x-dynamic-device-publickey", device_key.as_str()),
            ("x-dynamic-device-signed-nonce", signature.as_str()),
        ],
        &serde_json::json!({ "jwt": jwt }).to_string(),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "invalid_device_signature");
    assert_eq!(body["error"], "Device nonce was already used");
}

// --- Nonce pool ---

#[tokio::test]
async fn when_no_nonce_can_be_had_the_sign_in_goes_without_device_headers() {
    let fx = Fixture::start().await;
    fx.emulator
        .inject_faults(NONCES, vec![Fault::status(500); 4]);
    let client = bound_client(&fx, RecordingSigner::new());
    sign_in(&client, &fx.jwt_for("ada"), "ada")
        .await
        .expect("device headers are best effort where they are not required");
    assert_eq!(device_key_of_session(&fx, &client), None);
    assert!(
        token_claims(&client)["session_public_key"].is_string(),
        "the session key binding does not depend on nonces"
    );
}

#[tokio::test]
async fn when_no_nonce_can_be_had_and_signatures_are_required_the_error_says_so() {
    let fx = Fixture::start_with(requiring).await;
    fx.emulator
        .inject_faults(NONCES, vec![Fault::status(500); 4]);
    let client = bound_client(&fx, RecordingSigner::new());
    let error = sign_in(&client, &fx.jwt_for("ada"), "ada")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "device_nonce_unavailable", "{error}");
}

#[tokio::test]
async fn nonces_are_fetched_five_at_a_time_and_each_used_once() {
    let fx = Fixture::start_with(requiring).await;
    let (client, signer) = signed_in_bound(&fx).await;
    for _ in 0..3 {
        client.auth().refresh().await.unwrap();
    }
    let nonces: Vec<String> = signer
        .signed
        .lock()
        .unwrap()
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(nonces.len(), 4);
    let distinct: std::collections::HashSet<_> = nonces.iter().collect();
    assert_eq!(distinct.len(), 4, "no nonce is used twice");
    assert!(
        fx.requests(NONCES) <= 2,
        "four requests need at most two pool fills of five, made {}",
        fx.requests(NONCES)
    );
}

// --- Rotation and restart ---

#[tokio::test]
async fn signing_out_deletes_the_session_key_and_the_next_sign_in_gets_a_new_one() {
    let fx = Fixture::start_with(requiring).await;
    let (client, signer) = signed_in_bound(&fx).await;
    let first_key = session_public_key(&client);
    let first_name = signer.session_keys_created()[0].clone();
    let device = device_key_of_session(&fx, &client);

    client.auth().sign_out().await;
    assert!(
        !signer.has_key(&first_name),
        "the ended session's key is gone"
    );
    assert!(signer.has_key(DEVICE_KEY), "the device key stays");

    sign_in(&client, &fx.jwt_for("ada"), "ada").await.unwrap();
    let second_key = session_public_key(&client);
    assert_ne!(second_key, first_key, "a new session key per sign-in");
    assert_eq!(device_key_of_session(&fx, &client), device, "same device");
}

#[tokio::test]
async fn a_request_carrying_a_nonce_is_not_resent_after_a_gateway_error() {
    let fx = Fixture::start_with(requiring).await;
    let (client, _signer) = signed_in_bound(&fx).await;
    fx.emulator
        .inject_faults("refresh", vec![Fault::status(503)]);

    let error = client.auth().refresh().await.unwrap_err();

    assert_eq!(error.code(), "server_error", "{error}");
    assert_eq!(
        fx.requests("refresh"),
        1,
        "the server may have spent the nonce: not resent"
    );
    assert!(client.auth().session().is_some(), "the session is kept");
}

#[tokio::test]
async fn a_session_found_expired_at_restart_takes_its_key_with_it() {
    let fx = Fixture::start_with(requiring).await;
    let signer = RecordingSigner::new();
    let storage: Arc<dyn dynamic_byoa::SessionStorage> = Arc::new(MemoryStorage::new());
    let first = DynamicClient::new(
        fx.config(),
        ClientDependencies {
            storage: Some(storage.clone()),
            key_signer: Some(signer.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    first.auth().restore().await;
    sign_in(&first, &fx.jwt_for("ada"), "ada").await.unwrap();
    let key_name = signer.session_keys_created()[0].clone();
    drop(first);

    // The app comes back three hours later: the stored session expired meanwhile.
    let clock = Arc::new(dynamic_byoa::clock::ManualClock::starting_now());
    fx.pass_time(&clock, Duration::from_secs(3 * 60 * 60));
    let later = DynamicClient::with_clock(
        fx.config(),
        ClientDependencies {
            storage: Some(storage),
            key_signer: Some(signer.clone()),
            ..Default::default()
        },
        clock,
    )
    .unwrap();
    let state = later.auth().restore().await;

    assert_eq!(
        state,
        dynamic_byoa::AuthState::SignedOut {
            reason: Some(dynamic_byoa::SignOutReason::Expired)
        }
    );
    assert!(
        !signer.has_key(&key_name),
        "the expired session's key is gone"
    );
    assert!(signer.has_key(DEVICE_KEY), "the device key stays");
}

#[tokio::test]
async fn a_failed_sign_in_keeps_the_current_session_and_its_key() {
    let fx = Fixture::start_with(requiring).await;
    let (client, signer) = signed_in_bound(&fx).await;
    let kept_key = session_public_key(&client);
    let kept_name = signer.session_keys_created()[0].clone();

    fx.emulator
        .inject_faults("externalAuth/signin", vec![Fault::status(500)]);
    let error = sign_in(&client, &fx.jwt_for("bob"), "bob")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "server_error");

    assert_eq!(session_public_key(&client), kept_key);
    assert!(
        signer.has_key(&kept_name),
        "the current session's key is kept"
    );
    let attempt = signer.session_keys_created()[1].clone();
    assert!(
        !signer.has_key(&attempt),
        "the failed attempt's key is deleted"
    );
    client
        .auth()
        .refresh()
        .await
        .expect("the kept session works");
}

#[tokio::test]
async fn a_restarted_app_keeps_its_device_key_and_its_session_still_refreshes() {
    let fx = Fixture::start_with(requiring).await;
    let dir = std::env::temp_dir().join(format!(
        "dynamic-byoa-device-restart-{}-{}",
        std::process::id(),
        fx.emulator.addr().port()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let launch = || {
        let storage: Arc<dyn SessionStorage> = Arc::new(FileStorage::new(&dir));
        let signer = Arc::new(SoftwareKeySigner::new(storage.clone()));
        (
            DynamicClient::new(
                fx.config(),
                ClientDependencies {
                    storage: Some(storage),
                    key_signer: Some(signer.clone()),
                    ..Default::default()
                },
            )
            .unwrap(),
            signer,
        )
    };
    let (first, first_signer) = launch();
    first.auth().restore().await;
    sign_in(&first, &fx.jwt_for("ada"), "ada").await.unwrap();
    let bound = session_public_key(&first);
    let device = first_signer.get_or_create_key(DEVICE_KEY.into()).unwrap();
    drop(first);

    let (second, second_signer) = launch();
    assert!(matches!(
        second.auth().restore().await,
        AuthState::SignedIn { .. }
    ));
    assert_eq!(
        second_signer.get_or_create_key(DEVICE_KEY.into()).unwrap(),
        device,
        "the device key survives the restart"
    );
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{}.json", session_key(ENV)))).unwrap(),
    )
    .unwrap();
    assert_eq!(record["sessionKey"]["publicKey"], bound.as_str());
    let name = record["sessionKey"]["name"].as_str().unwrap().to_owned();
    assert_eq!(
        second_signer.get_or_create_key(name).unwrap(),
        bound,
        "the restored session's key loads"
    );
    // Required device signature, bound to the device that signed in: only the same device key
    // gets this refresh through.
    second
        .auth()
        .refresh()
        .await
        .expect("refresh after restart");
    assert_eq!(session_public_key(&second), bound);
    let _ = std::fs::remove_dir_all(&dir);
}

// --- The signature format, checked independently ---

/// Verifies a device signature from a real sign-in with Python's `cryptography` (OpenSSL):
/// ECDSA P-256 / SHA-256 over the nonce string, hex of raw r||s, compressed public key in hex.
#[tokio::test]
async fn device_signatures_verify_with_an_independent_implementation() {
    if !python_cryptography_available() {
        // In CI (which installs it) a missing verifier is a failure, not a quiet pass.
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with `cryptography` is required in CI for the independent signature check"
        );
        eprintln!(
            "\n!!! SKIPPED device_signatures_verify_with_an_independent_implementation: python3 \
             with the `cryptography` package is not installed (.ci/run installs it) !!!\n"
        );
        return;
    }
    let fx = Fixture::start_with(requiring).await;
    let (_client, signer) = signed_in_bound(&fx).await;
    let (nonce, signature) = signer.last_signed();
    let device_key = signer.get_or_create_key(DEVICE_KEY.into()).unwrap();
    assert_eq!(signature.len(), 64);

    let verdict = python_verify(&device_key, &nonce, &hex(&signature));
    assert_eq!(verdict, "valid");
    let mut tampered = signature.clone();
    tampered[40] ^= 0x80;
    assert_eq!(
        python_verify(&device_key, &nonce, &hex(&tampered)),
        "invalid"
    );
    assert_eq!(
        python_verify(&device_key, &format!("{nonce}x"), &hex(&signature)),
        "invalid"
    );
}

const PYTHON_VERIFY: &str = r#"
import sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
public_key, nonce, signature = sys.argv[1:4]
key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes.fromhex(public_key))
raw = bytes.fromhex(signature)
der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
try:
    key.verify(der, nonce.encode(), ec.ECDSA(hashes.SHA256()))
    print("valid")
except InvalidSignature:
    print("invalid")
"#;

fn python_cryptography_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import cryptography.hazmat.primitives.asymmetric.ec"])
        .output()
        .is_ok_and(|out| out.status.success())
}

fn python_verify(public_key: &str, nonce: &str, signature: &str) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", PYTHON_VERIFY, public_key, nonce, signature])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One HTTP/1.1 POST over a plain socket: (status, body).
async fn raw_post(
    base_url: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = base_url.strip_prefix("http://").unwrap();
    let (host, prefix) = url.split_once('/').unwrap();
    let mut socket = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut request = format!(
        "POST /{prefix}{path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
