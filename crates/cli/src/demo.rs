//! `byoa demo`: the whole flow on loopback, with nothing to configure.

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use dynamic_byoa::{ClientConfig, DynamicClient, SignInWithExternalJwtParams, SignedInSession};
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
    println!("[1/5] External issuer (stands in for Auth0, Firebase or your own backend)");
    println!("      iss   {}", issuer.issuer());
    println!(
        "      JWKS  {} (ES256, kid {})",
        issuer.jwks_url(),
        issuer.kid()
    );

    let environment = EnvironmentConfig::new(ENVIRONMENT_ID, issuer.issuer(), issuer.jwks_url());
    let emulator = Emulator::start(EmulatorConfig::new(vec![environment])).await?;
    println!("[2/5] Dynamic emulator");
    println!("      API base     {}", emulator.base_url());
    println!(
        "      environment  {ENVIRONMENT_ID}, trusting that issuer and verifying signatures with its JWKS"
    );

    let mut claims = issuer.claims_for(EXTERNAL_USER, Duration::from_secs(600));
    claims["email"] = json!("demo@example.com");
    claims["emailVerified"] = json!(true);
    let external_jwt = issuer.mint(&claims);
    println!("[3/5] External JWT minted for sub \"{EXTERNAL_USER}\"");
    println!("      header  {}", segment_json(&external_jwt, 0));
    println!("      claims  {claims}");
    println!("      (the token itself is a credential: it is never printed)");

    let client = DynamicClient::new(
        ClientConfig::new(ENVIRONMENT_ID).with_api_base_url(emulator.base_url()),
    )?;
    println!(
        "[4/5] client.auth().external().signInWithExternalJwt({{ externalJwt, externalUserId: \"{EXTERNAL_USER}\" }})"
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
    }

    println!("[5/5] What a refusal looks like");
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
        "\nSigned in as {} (the failed attempts kept the session).",
        still.unwrap_or_default()
    );
    emulator.shutdown().await;
    Ok(ExitCode::SUCCESS)
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
    let minutes = session
        .expires_at
        .duration_since(SystemTime::now())
        .map(|d| d.as_secs() / 60)
        .unwrap_or(0);
    println!(
        "      expires      {} (in {minutes} min)",
        httpdate::fmt_http_date(session.expires_at)
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
