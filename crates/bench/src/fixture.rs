//! The world every measurement runs against: a real external issuer (ES256 keys, JWKS over HTTP)
//! and the Dynamic emulator trusting it, both on loopback, on a runtime of their own so that the
//! measuring code never shares a thread with them.

use std::path::Path;
use std::time::Duration;

use dynamic_byoa_emulator::{Emulator, EmulatorConfig, EnvironmentConfig, TestIssuer};
use serde_json::json;

use crate::BoxResult;

pub const ENVIRONMENT_ID: &str = "2762a57b-faa4-41ce-9f16-abff9300e2c9";
pub const EXTERNAL_USER: &str = "bench-user-1";

pub struct Fixture {
    // Field order is drop order: servers stop before their runtime goes.
    emulator: Emulator,
    issuer: TestIssuer,
    runtime: tokio::runtime::Runtime,
    /// One external JWT for `EXTERNAL_USER`, valid for an hour; every sign-in may reuse it
    /// (Dynamic does not make external JWTs single-use).
    pub external_jwt: String,
}

impl Fixture {
    pub fn start() -> BoxResult<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-emulator")
            .enable_all()
            .build()?;
        let (issuer, emulator) = runtime.block_on(async {
            let issuer = TestIssuer::start().await?;
            let environment =
                EnvironmentConfig::new(ENVIRONMENT_ID, issuer.issuer(), issuer.jwks_url());
            let emulator = Emulator::start(EmulatorConfig::new(vec![environment])).await?;
            Ok::<_, dynamic_byoa_emulator::EmulatorError>((issuer, emulator))
        })?;
        let external_jwt =
            issuer.mint(&issuer.claims_for(EXTERNAL_USER, Duration::from_secs(3600)));
        Ok(Self {
            emulator,
            issuer,
            runtime,
            external_jwt,
        })
    }

    pub fn base_url(&self) -> String {
        self.emulator.base_url()
    }

    pub fn signin_url(&self) -> String {
        dynamic_byoa_contract::paths::sdk_url(
            &self.base_url(),
            ENVIRONMENT_ID,
            dynamic_byoa_contract::paths::EXTERNAL_AUTH_SIGNIN,
        )
    }

    /// A step-up assertion for `EXTERNAL_USER` with its own `jti` (the emulator accepts each
    /// `jti` once).
    pub fn assertion(&self, jti: &str) -> String {
        let mut claims = self
            .issuer
            .claims_for(EXTERNAL_USER, Duration::from_secs(600));
        claims["scope"] = json!("wallet:export");
        claims["jti"] = json!(jti);
        self.issuer.mint(&claims)
    }

    /// Sign-in requests the emulator has seen (to check that nothing was skipped).
    pub fn signin_count(&self) -> usize {
        self.emulator.request_count(
            ENVIRONMENT_ID,
            dynamic_byoa_contract::paths::EXTERNAL_AUTH_SIGNIN,
        )
    }

    /// The file the cross-process subjects read (`BYOA_BENCH_FIXTURE`).
    pub fn write(&self, path: &Path) -> BoxResult<()> {
        let fixture = json!({
            "apiBaseUrl": self.base_url(),
            "environmentId": ENVIRONMENT_ID,
            "externalUserId": EXTERNAL_USER,
            "externalJwt": self.external_jwt,
            "issuer": self.issuer.issuer(),
            "jwksUrl": self.issuer.jwks_url(),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&fixture)?)?;
        Ok(())
    }

    /// Stops the servers and waits for them.
    pub fn shutdown(self) {
        let Self {
            emulator,
            issuer,
            runtime,
            ..
        } = self;
        runtime.block_on(emulator.shutdown());
        drop(issuer);
        runtime.shutdown_timeout(Duration::from_secs(1));
    }
}
