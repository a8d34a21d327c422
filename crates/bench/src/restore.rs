//! Row 6: restore from storage to a signed-in state, without the network.
//!
//! One real sign-in against the emulator stores a session; then, `runs` times, a new client is
//! created on that store with an API base where nothing listens and `restore()` is awaited until
//! it reports `SignedIn`. What is timed is what an app pays at launch before it can show the
//! signed-in UI: client construction, the storage read (a file, or memory), decoding the record
//! and settling the state machine.

use dynamic_byoa::ClientDependencies;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dynamic_byoa::{
    AuthState, ClientConfig, DynamicClient, FileStorage, MemoryStorage, SessionStorage,
    SignInWithExternalJwtParams,
};

use crate::BoxResult;
use crate::fixture::{ENVIRONMENT_ID, EXTERNAL_USER, Fixture};
use crate::stats::Summary;

pub struct Restore {
    pub file: Summary,
    pub memory: Summary,
}

pub fn measure(fixture: &Fixture, scratch: &std::path::Path, runs: usize) -> BoxResult<Restore> {
    let driver = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = scratch.join("restore-store");
    let _ = std::fs::remove_dir_all(&dir);
    let file: Arc<dyn SessionStorage> = Arc::new(FileStorage::new(&dir));
    let online = ClientConfig::new(ENVIRONMENT_ID).with_api_base_url(fixture.base_url());
    let client = DynamicClient::new(
        online,
        ClientDependencies {
            storage: Some(file.clone()),
            ..Default::default()
        },
    )?;
    driver.block_on(client.auth().external().sign_in_with_external_jwt(
        SignInWithExternalJwtParams {
            external_jwt: fixture.external_jwt.clone(),
            external_user_id: EXTERNAL_USER.to_owned(),
            session_public_key: None,
        },
    ))?;
    drop(client);

    // The same record in memory, for the cost without the file system.
    let key = format!("dynamic_{ENVIRONMENT_ID}_session");
    let record = file
        .get(key.clone())?
        .ok_or("the sign-in stored no session")?;
    let memory: Arc<dyn SessionStorage> = Arc::new(MemoryStorage::new());
    memory.set(key, record)?;

    let offline = ClientConfig::new(ENVIRONMENT_ID)
        .with_api_base_url(format!("http://127.0.0.1:{}/api/v0", closed_port()?));
    let time = |storage: &Arc<dyn SessionStorage>| -> BoxResult<Summary> {
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            samples.push(restore_once(&driver, &offline, storage)?);
        }
        Ok(Summary::of_durations_ms(&samples))
    };
    let file = time(&file)?;
    let memory = time(&memory)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Restore { file, memory })
}

fn restore_once(
    driver: &tokio::runtime::Runtime,
    config: &ClientConfig,
    storage: &Arc<dyn SessionStorage>,
) -> BoxResult<Duration> {
    let started = Instant::now();
    let client = DynamicClient::new(
        config.clone(),
        ClientDependencies {
            storage: Some(storage.clone()),
            ..Default::default()
        },
    )?;
    let state = driver.block_on(client.auth().restore());
    let elapsed = started.elapsed();
    match state {
        AuthState::SignedIn { .. } => Ok(elapsed),
        other => Err(format!("restore ended in {other:?}, not SignedIn").into()),
    }
}

/// A loopback port with nothing listening: any network use would fail, not wait.
fn closed_port() -> BoxResult<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
