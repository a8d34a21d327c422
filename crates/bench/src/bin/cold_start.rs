//! The cold-start subject: the smallest program that goes from process start to a signed-in
//! Dynamic session with `dynamic_byoa`, the same job as `benches/js/cold-start.mjs` does with
//! Dynamic's JavaScript SDK.
//!
//! It reads `BYOA_BENCH_FIXTURE` (a JSON file written by `byoa-bench`: `apiBaseUrl`,
//! `environmentId`, `externalJwt`, `externalUserId`), signs in once, prints one JSON line and
//! exits. The future is polled by a few lines of std-only `block_on`, as a Kotlin coroutine or
//! Swift task would poll it: the library brings its own runtime.

use std::future::Future;
use std::pin::pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};
use std::thread::Thread;

use dynamic_byoa::{ClientConfig, DynamicClient, SignInWithExternalJwtParams};
use serde_json::Value;

fn main() -> ExitCode {
    match run() {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("byoa-cold-start: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<String, Box<dyn std::error::Error>> {
    let path = std::env::var("BYOA_BENCH_FIXTURE").map_err(|_| "BYOA_BENCH_FIXTURE is not set")?;
    let fixture: Value = serde_json::from_slice(&std::fs::read(path)?)?;
    let field = |name: &str| {
        fixture[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("fixture has no {name}"))
    };
    let client = DynamicClient::new(
        ClientConfig::new(field("environmentId")?).with_api_base_url(field("apiBaseUrl")?),
        Default::default(),
    )?;
    let session = block_on(client.auth().external().sign_in_with_external_jwt(
        SignInWithExternalJwtParams {
            external_jwt: field("externalJwt")?,
            external_user_id: field("externalUserId")?,
            session_public_key: None,
        },
    ))?;
    Ok(format!(
        "{{\"userId\":\"{}\",\"signedIn\":true}}",
        session.user.user_id
    ))
}

/// Polls `future` on this thread, parking between wake-ups.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}
