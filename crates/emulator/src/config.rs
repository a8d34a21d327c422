//! What the emulator serves: its environments (each one a Dynamic environment with BYOA set up)
//! and where it listens. Built in code by tests, or loaded from a JSON file by the CLI.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use dynamic_byoa_contract::paths::is_environment_id;
use serde::Deserialize;

use crate::error::EmulatorError;
use crate::keys::SigningKey;

/// Dynamic's default API prefix (contract §0).
pub const DEFAULT_BASE_PATH: &str = "/api/v0";
/// Default lifetime of a minted Dynamic session.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(2 * 60 * 60);
/// Default lifetime of an elevated access token minted by a step-up (`externalAuth/verify`):
/// short, because it stands for "the user proved presence just now".
pub const DEFAULT_ELEVATED_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);
/// Default lifetime of an issued nonce: the JavaScript client keeps its pool for 24 hours
/// (contract §4.10); the server's own lifetime is not documented, so the emulator honours that.
pub const DEFAULT_NONCE_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Default clock-skew allowance for `exp`/`nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// One emulated Dynamic environment and its external-auth ("BYOA") settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentConfig {
    /// Lowercase UUID, as in every `/sdk/{environmentId}/...` path.
    pub environment_id: String,
    /// Required `iss` of external JWTs.
    pub issuer: String,
    /// The customer's JWKS URL, fetched over HTTP(S).
    pub jwks_url: String,
    /// When set, the external JWT's `aud` must be (or contain) this value.
    pub audience: Option<String>,
    /// Lifetime of minted Dynamic sessions.
    pub session_ttl: Duration,
    /// Sandbox MAU cap: creating user N+1 is refused with the nested 403.
    pub max_users: Option<usize>,
    /// Sign-in attempts per rolling minute for this environment; more get 429.
    pub signin_rate_limit_per_minute: Option<u32>,
    /// `security.externalAuth.enabled`; when false every sign-in gets 422.
    pub external_auth_enabled: bool,
    /// Lifetime of elevated access tokens minted by `externalAuth/verify`.
    pub elevated_token_ttl: Duration,
    /// Sign-in and refresh must carry a valid device signature (contract §4.10); without it,
    /// signatures that are sent are still verified and their absence is ignored.
    pub require_device_signature: bool,
    /// How long an issued nonce stays usable.
    pub nonce_ttl: Duration,
}

impl EnvironmentConfig {
    pub fn new(
        environment_id: impl Into<String>,
        issuer: impl Into<String>,
        jwks_url: impl Into<String>,
    ) -> Self {
        Self {
            environment_id: environment_id.into(),
            issuer: issuer.into(),
            jwks_url: jwks_url.into(),
            audience: None,
            session_ttl: DEFAULT_SESSION_TTL,
            max_users: None,
            signin_rate_limit_per_minute: None,
            external_auth_enabled: true,
            elevated_token_ttl: DEFAULT_ELEVATED_TOKEN_TTL,
            require_device_signature: false,
            nonce_ttl: DEFAULT_NONCE_TTL,
        }
    }

    fn validate(&self) -> Result<(), EmulatorError> {
        let id = &self.environment_id;
        let fail = |what: &str| Err(EmulatorError::Config(format!("environment {id}: {what}")));
        if !is_environment_id(id) {
            return fail("environmentId must be a lowercase UUID");
        }
        if self.issuer.trim().is_empty() {
            return fail("issuer must not be empty");
        }
        if !(self.jwks_url.starts_with("http://") || self.jwks_url.starts_with("https://")) {
            return fail("jwksUrl must be an http:// or https:// URL");
        }
        if self.session_ttl.as_secs() == 0 {
            return fail("session TTL must be at least one second");
        }
        if self.elevated_token_ttl.as_secs() == 0 {
            return fail("elevated token TTL must be at least one second");
        }
        if self.nonce_ttl.as_secs() == 0 {
            return fail("nonce TTL must be at least one second");
        }
        Ok(())
    }
}

/// Everything [`crate::Emulator::start`] needs.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub environments: Vec<EnvironmentConfig>,
    /// Prefix of every route, `/api/v0` like Dynamic's.
    pub base_path: String,
    /// Listen address; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Clock-skew allowance for `exp`/`nbf` of external JWTs and session tokens.
    pub leeway: Duration,
    /// The RSA key that signs Dynamic session tokens. `None` generates one per environment at
    /// start, as Dynamic keys are per environment; `Some` signs for every environment (tests pass
    /// a shared one because RSA-2048 generation is slow).
    pub signing_key: Option<SigningKey>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            environments: Vec::new(),
            base_path: DEFAULT_BASE_PATH.to_owned(),
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            leeway: DEFAULT_LEEWAY,
            signing_key: None,
        }
    }
}

impl EmulatorConfig {
    pub fn new(environments: Vec<EnvironmentConfig>) -> Self {
        Self {
            environments,
            ..Self::default()
        }
    }

    /// Loads the CLI's JSON configuration file (camelCase keys, see [`ConfigFile`]).
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self, EmulatorError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::ConfigFile {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json_str(&text)
            .map_err(|e| EmulatorError::Config(format!("{}: {e}", path.display())))
    }

    /// Parses the configuration-file JSON and validates it.
    pub fn from_json_str(text: &str) -> Result<Self, EmulatorError> {
        let file: ConfigFile =
            serde_json::from_str(text).map_err(|e| EmulatorError::Config(e.to_string()))?;
        let config = file.into_config()?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what the server relies on: valid, unique environment ids and a usable base path.
    pub(crate) fn validate(&self) -> Result<(), EmulatorError> {
        let mut seen = HashSet::new();
        for env in &self.environments {
            env.validate()?;
            if !seen.insert(env.environment_id.as_str()) {
                return Err(EmulatorError::Config(format!(
                    "environment {} is configured twice",
                    env.environment_id
                )));
            }
        }
        // It mints sessions for anyone who asks: keep it on this machine (simulators share the
        // host's loopback; Android emulators reach it through `adb reverse`).
        if !self.bind.ip().is_loopback() {
            return Err(EmulatorError::Config(format!(
                "the emulator listens on loopback only, not {}",
                self.bind.ip()
            )));
        }
        normalize_base_path(&self.base_path).map(|_| ())
    }

    /// The base path without a trailing slash ("" for the root).
    pub(crate) fn normalized_base_path(&self) -> Result<String, EmulatorError> {
        normalize_base_path(&self.base_path)
    }
}

fn normalize_base_path(base_path: &str) -> Result<String, EmulatorError> {
    let trimmed = base_path.trim_end_matches('/');
    if !trimmed.is_empty() && !trimmed.starts_with('/') {
        return Err(EmulatorError::Config(format!(
            "basePath must start with '/': {base_path:?}"
        )));
    }
    if trimmed.contains(['{', '}', '*', '?', '#']) {
        return Err(EmulatorError::Config(format!(
            "basePath must be a plain path: {base_path:?}"
        )));
    }
    Ok(trimmed.to_owned())
}

/// The JSON configuration file. Unknown keys are errors, so typos do not silently fall back to
/// defaults.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigFile {
    environments: Vec<EnvironmentFile>,
    base_path: Option<String>,
    host: Option<IpAddr>,
    port: Option<u16>,
    leeway_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EnvironmentFile {
    environment_id: String,
    issuer: String,
    jwks_url: String,
    audience: Option<String>,
    session_ttl_seconds: Option<u64>,
    max_users: Option<usize>,
    signin_rate_limit_per_minute: Option<u32>,
    external_auth_enabled: Option<bool>,
    elevated_token_ttl_seconds: Option<u64>,
    require_device_signature: Option<bool>,
    nonce_ttl_seconds: Option<u64>,
}

impl ConfigFile {
    fn into_config(self) -> Result<EmulatorConfig, EmulatorError> {
        let defaults = EmulatorConfig::default();
        let host = self.host.unwrap_or(defaults.bind.ip());
        Ok(EmulatorConfig {
            environments: self
                .environments
                .into_iter()
                .map(EnvironmentFile::into_config)
                .collect(),
            base_path: self.base_path.unwrap_or(defaults.base_path),
            bind: SocketAddr::new(host, self.port.unwrap_or(0)),
            leeway: self
                .leeway_seconds
                .map_or(defaults.leeway, Duration::from_secs),
            signing_key: None,
        })
    }
}

impl EnvironmentFile {
    fn into_config(self) -> EnvironmentConfig {
        let mut env = EnvironmentConfig::new(self.environment_id, self.issuer, self.jwks_url);
        env.audience = self.audience;
        if let Some(seconds) = self.session_ttl_seconds {
            env.session_ttl = Duration::from_secs(seconds);
        }
        env.max_users = self.max_users;
        env.signin_rate_limit_per_minute = self.signin_rate_limit_per_minute;
        env.external_auth_enabled = self.external_auth_enabled.unwrap_or(true);
        if let Some(seconds) = self.elevated_token_ttl_seconds {
            env.elevated_token_ttl = Duration::from_secs(seconds);
        }
        env.require_device_signature = self.require_device_signature.unwrap_or(false);
        if let Some(seconds) = self.nonce_ttl_seconds {
            env.nonce_ttl = Duration::from_secs(seconds);
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = "2762a57b-faa4-41ce-9f16-abff9300e2c9";

    #[test]
    fn environment_defaults_are_two_hour_sessions_without_limits() {
        let env = EnvironmentConfig::new(ENV, "https://issuer", "https://issuer/jwks");
        assert_eq!(env.session_ttl, Duration::from_secs(7200));
        assert_eq!(env.audience, None);
        assert_eq!(env.max_users, None);
        assert_eq!(env.signin_rate_limit_per_minute, None);
        assert!(env.external_auth_enabled);
        assert!(!env.require_device_signature);
        assert_eq!(env.nonce_ttl, Duration::from_secs(24 * 3600));
    }

    #[test]
    fn emulator_defaults_listen_on_an_ephemeral_loopback_port_under_api_v0() {
        let config = EmulatorConfig::default();
        assert_eq!(config.base_path, "/api/v0");
        assert_eq!(config.bind.to_string(), "127.0.0.1:0");
        assert_eq!(config.leeway, Duration::from_secs(30));
    }

    #[test]
    fn config_file_reads_camel_case_keys_and_fills_defaults() {
        let config = EmulatorConfig::from_json_str(&format!(
            r#"{{"environments": [{{"environmentId": "{ENV}", "issuer": "https://i",
                 "jwksUrl": "https://i/jwks", "audience": "app", "sessionTtlSeconds": 60,
                 "maxUsers": 3, "signinRateLimitPerMinute": 10,
                 "requireDeviceSignature": true, "nonceTtlSeconds": 300}}],
               "basePath": "/api/v0/", "port": 3333}}"#
        ))
        .unwrap();
        let env = &config.environments[0];
        assert_eq!(env.audience.as_deref(), Some("app"));
        assert_eq!(env.session_ttl, Duration::from_secs(60));
        assert_eq!(env.max_users, Some(3));
        assert_eq!(env.signin_rate_limit_per_minute, Some(10));
        assert!(env.external_auth_enabled);
        assert!(env.require_device_signature);
        assert_eq!(env.nonce_ttl, Duration::from_secs(300));
        assert_eq!(config.bind.to_string(), "127.0.0.1:3333");
        assert_eq!(config.normalized_base_path().unwrap(), "/api/v0");
    }

    #[test]
    fn config_file_rejects_unknown_keys() {
        let err =
            EmulatorConfig::from_json_str(r#"{"environments": [], "basepath": "/x"}"#).unwrap_err();
        assert!(err.to_string().contains("basepath"), "{err}");
    }

    #[test]
    fn uppercase_or_duplicate_environment_ids_are_rejected() {
        let upper = EnvironmentConfig::new(ENV.to_uppercase(), "i", "https://i/jwks");
        assert!(EmulatorConfig::new(vec![upper]).validate().is_err());
        let env = EnvironmentConfig::new(ENV, "i", "https://i/jwks");
        assert!(
            EmulatorConfig::new(vec![env.clone(), env])
                .validate()
                .is_err()
        );
    }

    #[test]
    fn only_loopback_addresses_can_be_bound() {
        for host in ["0.0.0.0", "192.168.1.10"] {
            let text = format!(r#"{{"environments": [], "host": "{host}"}}"#);
            let err = EmulatorConfig::from_json_str(&text).unwrap_err();
            assert!(err.to_string().contains("loopback"), "{err}");
        }
        assert!(EmulatorConfig::from_json_str(r#"{"environments": [], "host": "::1"}"#).is_ok());
    }

    #[test]
    fn jwks_url_must_be_http_or_https() {
        let env = EnvironmentConfig::new(ENV, "i", "file:///etc/passwd");
        assert!(EmulatorConfig::new(vec![env]).validate().is_err());
    }

    #[test]
    fn base_path_must_be_absolute_and_plain() {
        let mut config = EmulatorConfig {
            base_path: "api".into(),
            ..EmulatorConfig::default()
        };
        assert!(config.validate().is_err());
        config.base_path = "/{x}".into();
        assert!(config.validate().is_err());
        config.base_path = "/".into();
        assert_eq!(config.normalized_base_path().unwrap(), "");
    }
}
