//! `byoa demo`: the whole flow on loopback, with nothing to configure.

use dynamic_byoa::ClientDependencies;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use dynamic_byoa::{
    AccessTokenOptions, AuthListener, AuthState, ClientConfig, DynamicClient, FileStorage,
    SessionStorage, SignInWithExternalJwtParams, SignedInSession, SoftwareKeySigner,
    VerifyWithExternalJwtParams,
};
use dynamic_byoa_contract::paths;
use dynamic_byoa_emulator::{Emulator, EmulatorConfig, EnvironmentConfig, TestIssuer};
use serde_json::{Value, json};

use crate::CliResult;

const ENVIRONMENT_ID: &str = "2762a57b-faa4-41ce-9f16-abff9300e2c9";
const EXTERNAL_USER: &str = "demo-user-42";

pub async fn run() -> CliResult {
    println!(
        "byoa demo: external-JWT sign-in through the native client, against a local Dynamic emulator\n"
    );

    let issuer = TestIssuer::start().await?;
    println!("[1/7] External issuer (stands in for Auth0, Firebase or your own backend)");
    println!("      iss   {}", issuer.issuer());
    println!(
        "      JWKS  {} (ES256, kid {})",
        issuer.jwks_url(),
        issuer.kid()
    );

    let mut environment =
        EnvironmentConfig::new(ENVIRONMENT_ID, issuer.issuer(), issuer.jwks_url());
    environment.require_device_signature = true;
    let emulator = Emulator::start(EmulatorConfig::new(vec![environment])).await?;
    println!("[2/7] Dynamic emulator");
    println!("      API base     {}", emulator.base_url());
    println!(
        "      environment  {ENVIRONMENT_ID}, trusting that issuer and verifying signatures with its JWKS"
    );
    println!("      device signatures required on sign-in and refresh");

    let mut claims = issuer.claims_for(EXTERNAL_USER, Duration::from_secs(600));
    claims["email"] = json!("demo@example.com");
    claims["emailVerified"] = json!(true);
    let external_jwt = issuer.mint(&claims);
    println!("[3/7] External JWT minted for sub \"{EXTERNAL_USER}\"");
    println!("      header  {}", segment_json(&external_jwt, 0));
    println!("      claims  {claims}");
    println!("      (the token itself is a credential: it is never printed)");

    // The session is kept in files here, as an app keeps it in the keychain, so that step 6 can
    // show a restart.
    let store_dir = std::env::temp_dir().join(format!("byoa-demo-{}", std::process::id()));
    let config = ClientConfig::new(ENVIRONMENT_ID).with_api_base_url(emulator.base_url());
    // Keys come from the software signer, kept in the same directory (on a phone: Secure
    // Enclave or Android Keystore, through the app's own KeySigner).
    let client = bound_client(&config, &store_dir)?;
    client.auth().restore().await;
    println!(
        "[4/7] client.auth().external().signInWithExternalJwt({{ externalJwt, externalUserId: \"{EXTERNAL_USER}\" }})"
    );
    println!(
        "      preflight on the device, then POST {}",
        paths::sdk_url("", ENVIRONMENT_ID, paths::EXTERNAL_AUTH_SIGNIN)
    );
    let started = Instant::now();
    let session = client
        .auth()
        .external()
        .sign_in_with_external_jwt(params(&external_jwt, EXTERNAL_USER))
        .await?;
    println!("      200 OK in {} ms", started.elapsed().as_millis());
    print_session(&session);
    if let Some(tokens) = client.auth().tokens() {
        println!("      tokens       {tokens} (read with tokens.bearerToken())");
        let claims = segment_json(&tokens.bearer_token(), 1);
        let session_key = claims["session_public_key"].as_str().unwrap_or("-");
        println!(
            "      bound to     session key {} (the token's session_public_key)",
            short(session_key)
        );
        let device_key = session
            .user
            .session_id
            .as_deref()
            .and_then(|sid| emulator.session_device_key(ENVIRONMENT_ID, sid));
        println!(
            "      device key   {} signed a one-time nonce (x-dynamic-device-signed-nonce)",
            device_key.as_deref().map_or("-".into(), short)
        );
    }

    println!("[5/7] What a refusal looks like");
    show_refusal(
        &client,
        "wrong externalUserId",
        params(&external_jwt, "someone-else"),
    )
    .await;
    let forger = TestIssuer::start().await?;
    let mut forged_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    forged_header.kid = Some(issuer.kid());
    let forged = forger.mint_with_header(forged_header, &claims);
    show_refusal(&client, "forged signature", params(&forged, EXTERNAL_USER)).await;
    println!(
        "      the emulator saw {} sign-in request(s): the device refused the first one without sending it",
        emulator.request_count(ENVIRONMENT_ID, paths::EXTERNAL_AUTH_SIGNIN)
    );

    let still = client.auth().session().map(|s| s.user.user_id);
    println!(
        "      still signed in as {} (a failed attempt never loses the session)",
        still.unwrap_or_default()
    );
    step_up(&client, &issuer, &emulator).await?;
    drop(client);

    println!("[7/7] The session lifecycle, across an app restart");
    let client = bound_client(&config, &store_dir)?;
    let _events = client.auth().add_listener(Arc::new(PrintEvents));
    let restored = client.auth().restore().await;
    println!(
        "      restart: restore() -> {} from {} (no network needed)",
        describe(&restored),
        store_dir.display()
    );
    let bearer = client
        .auth()
        .access_token(AccessTokenOptions::default())
        .await?;
    println!(
        "      accessToken({{ minTtlSeconds: 60 }}) -> the stored bearer ({} chars), no refresh needed",
        bearer.len()
    );
    let refreshed = client.auth().refresh().await?;
    println!(
        "      refresh() -> expires {} (same device key, fresh nonce)",
        httpdate::fmt_http_date(instant(refreshed.expires_at_ms))
    );
    client.auth().sign_out().await;
    println!(
        "      sign_out() -> stored record deleted: {}; revoked with x-dyn-logout-reason: {}",
        !store_dir
            .join(format!("dynamic_{ENVIRONMENT_ID}_session.json"))
            .exists(),
        emulator
            .last_logout_reason(ENVIRONMENT_ID)
            .unwrap_or_else(|| "-".into())
    );
    let _ = std::fs::remove_dir_all(&store_dir);

    println!("\nDone: signed in, restored, refreshed and signed out through the native client.");
    emulator.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Step 6: the user proves presence again before a sensitive action, and the app reads the
/// elevated token for that call.
async fn step_up(
    client: &DynamicClient,
    issuer: &TestIssuer,
    emulator: &Emulator,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("[6/7] Step-up before a sensitive action");
    let mut claims = issuer.claims_for(EXTERNAL_USER, Duration::from_secs(120));
    claims["scope"] = json!("wallet:export");
    claims["jti"] = json!(format!("demo-{}", std::process::id()));
    claims["singleUse"] = json!(true);
    let assertion = issuer.mint(&claims);
    println!("      assertion claims  {claims}");
    println!(
        "      client.auth().external().verifyWithExternalJwt({{ externalJwt }}) -> POST {}",
        paths::sdk_url("", ENVIRONMENT_ID, paths::EXTERNAL_AUTH_VERIFY)
    );
    let external = client.auth().external();
    let verify = |jwt: &str| {
        external.verify_with_external_jwt(VerifyWithExternalJwtParams {
            external_jwt: jwt.to_owned(),
        })
    };
    let granted = verify(&assertion).await?;
    let minutes = instant(granted.expires_at_ms)
        .duration_since(SystemTime::now())
        .map_or(0, |d| d.as_secs().div_ceil(60));
    println!(
        "      granted scopes [{}], expires in {minutes} min, single use: {}",
        granted.scopes.join(" "),
        granted.single_use
    );
    let scopes = vec!["wallet:export".to_owned()];
    let first = client.auth().elevated_access_token(scopes.clone());
    let second = client.auth().elevated_access_token(scopes);
    println!(
        "      elevatedAccessToken([\"wallet:export\"]) -> {} for x-dyn-elevated-access-token; again -> {}",
        first.map_or("none", |_| "a token"),
        second.map_or("none (single use)", |_| "a token")
    );
    match verify(&assertion).await {
        Ok(_) => println!("      replayed assertion: unexpectedly accepted"),
        Err(error) => println!("      replayed assertion   -> {}: {error}", error.code()),
    }
    println!(
        "      the emulator saw {} step-up request(s)",
        emulator.request_count(ENVIRONMENT_ID, paths::EXTERNAL_AUTH_VERIFY)
    );
    Ok(())
}

/// A client whose session and keys are kept in files under `dir` (the software key signer).
fn bound_client(
    config: &ClientConfig,
    dir: &std::path::Path,
) -> Result<Arc<DynamicClient>, dynamic_byoa::ByoaError> {
    let storage: Arc<dyn SessionStorage> = Arc::new(FileStorage::new(dir));
    let signer = Arc::new(SoftwareKeySigner::new(storage.clone()));
    DynamicClient::new(
        config.clone(),
        ClientDependencies {
            storage: Some(storage),
            key_signer: Some(signer),
            ..Default::default()
        },
    )
}

/// A public key, shortened for display.
fn short(key: &str) -> String {
    match key.get(..12) {
        Some(start) if key.len() > 12 => format!("{start}…"),
        _ => key.to_owned(),
    }
}

/// Prints each state change, as an app's listener would react to it.
struct PrintEvents;

impl AuthListener for PrintEvents {
    fn on_state_changed(&self, state: AuthState) {
        println!("      event: {}", describe(&state));
    }
}

fn describe(state: &AuthState) -> String {
    match state {
        AuthState::Restoring => "Restoring".into(),
        AuthState::SignedIn { session } => format!(
            "SignedIn({})",
            session.user.external_user_id.as_deref().unwrap_or("-")
        ),
        AuthState::SignedOut { reason } => format!(
            "SignedOut({})",
            reason.map_or_else(|| "none".to_owned(), |r| r.to_string())
        ),
        AuthState::StorageUnavailable { error } => format!("StorageUnavailable({error})"),
    }
}

fn params(jwt: &str, user: &str) -> SignInWithExternalJwtParams {
    SignInWithExternalJwtParams {
        external_jwt: jwt.to_owned(),
        external_user_id: user.to_owned(),
        session_public_key: None,
    }
}

fn print_session(session: &SignedInSession) {
    let user = &session.user;
    let new = if user.new_user { " (new user)" } else { "" };
    println!("      user         {}{new}", user.user_id);
    println!(
        "      external id  {}",
        user.external_user_id.as_deref().unwrap_or("-")
    );
    println!(
        "      session      {}",
        user.session_id.as_deref().unwrap_or("-")
    );
    println!(
        "      email        {}",
        user.email.as_deref().unwrap_or("-")
    );
    println!("      scopes       {}", user.scopes.join(" "));
    for credential in &user.verified_credentials {
        println!(
            "      credential   {:?} {}",
            credential.format,
            credential
                .public_identifier
                .as_deref()
                .or(credential.email.as_deref())
                .unwrap_or("")
        );
    }
    let minutes = instant(session.expires_at_ms)
        .duration_since(SystemTime::now())
        .map(|d| d.as_secs() / 60)
        .unwrap_or(0);
    println!(
        "      expires      {} (in {minutes} min)",
        httpdate::fmt_http_date(instant(session.expires_at_ms))
    );
}

async fn show_refusal(client: &DynamicClient, label: &str, params: SignInWithExternalJwtParams) {
    match client
        .auth()
        .external()
        .sign_in_with_external_jwt(params)
        .await
    {
        Ok(_) => println!("      {label}: unexpectedly accepted"),
        Err(error) => println!("      {label:<22} -> {}: {error}", error.code()),
    }
}

/// The decoded JSON of one JWT segment (header or payload), for display.
fn segment_json(jwt: &str, index: usize) -> Value {
    jwt.split('.')
        .nth(index)
        .and_then(|s| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

/// An instant of the API (milliseconds since the Unix epoch) as a `SystemTime`.
fn instant(epoch_ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(epoch_ms.max(0) as u64)
}
