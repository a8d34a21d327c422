//! Row 7: what the app pays per backend call for an always-fresh token, and for a step-up.
//!
//! One real sign-in against the emulator; then `auth().access_token()` is timed while the bearer
//! is fresh (no request: the cost of asking), and `verify_with_external_jwt` is timed over
//! loopback with a new assertion each time (minted before the clock starts): preflight, the
//! request, reading the elevated token's claims and keeping it.

use std::time::{Duration, Instant};

use dynamic_byoa::{
    AccessTokenOptions, ClientConfig, DynamicClient, SignInWithExternalJwtParams,
    VerifyWithExternalJwtParams,
};

use crate::BoxResult;
use crate::fixture::{ENVIRONMENT_ID, EXTERNAL_USER, Fixture};
use crate::stats::Summary;

pub struct StepUp {
    pub access_token: Summary,
    pub step_up: Summary,
}

pub fn measure(fixture: &Fixture, token_runs: usize, step_up_runs: usize) -> BoxResult<StepUp> {
    let driver = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let config = ClientConfig::new(ENVIRONMENT_ID).with_api_base_url(fixture.base_url());
    let client = DynamicClient::new(config, Default::default())?;
    let auth = client.auth();
    driver.block_on(
        auth.external()
            .sign_in_with_external_jwt(SignInWithExternalJwtParams {
                external_jwt: fixture.external_jwt.clone(),
                external_user_id: EXTERNAL_USER.to_owned(),
                session_public_key: None,
            }),
    )?;

    let mut token_samples = Vec::with_capacity(token_runs);
    for _ in 0..token_runs {
        let started = Instant::now();
        driver.block_on(auth.access_token(AccessTokenOptions::default()))?;
        token_samples.push(started.elapsed());
    }

    let run = std::process::id();
    let assertions: Vec<String> = (0..step_up_runs)
        .map(|i| fixture.assertion(&format!("bench-{run}-{i}")))
        .collect();
    let external = auth.external();
    let mut step_up_samples: Vec<Duration> = Vec::with_capacity(step_up_runs);
    for assertion in assertions {
        let started = Instant::now();
        driver.block_on(
            external.verify_with_external_jwt(VerifyWithExternalJwtParams {
                external_jwt: assertion,
            }),
        )?;
        step_up_samples.push(started.elapsed());
    }
    Ok(StepUp {
        access_token: Summary::of_durations_ms(&token_samples),
        step_up: Summary::of_durations_ms(&step_up_samples),
    })
}
