//! Client configuration: the record apps fill in, and its validated form.

use std::net::IpAddr;
use std::time::Duration;

use dynamic_byoa_contract::paths::{DEFAULT_API_BASE_URL, is_environment_id};
use reqwest::Url;

use crate::error::Error;
use crate::preflight::DEFAULT_LEEWAY_SECONDS;

/// Default overall time for one API call, retries included.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 15_000;
/// Default time before expiry at which the session is refreshed.
pub const DEFAULT_REFRESH_MARGIN_SECONDS: u64 = 300;
/// Longest overall time a call may be given.
const MAX_REQUEST_TIMEOUT_MS: u64 = 120_000;

/// How to reach Dynamic. Only `environment_id` is required.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ClientConfig {
    /// The environment id from Dynamic's dashboard: a lowercase UUID.
    pub environment_id: String,
    /// API base including `/api/v0`; defaults to `https://app.dynamicauth.com/api/v0`.
    /// `http://` is accepted only for loopback hosts (a local emulator).
    #[uniffi(default = None)]
    pub api_base_url: Option<String>,
    /// The app's origin (for example its universal link), sent as `Origin`. Dynamic puts it in
    /// the session token's `aud`. Only scheme, host and port are used.
    #[uniffi(default = None)]
    pub app_origin: Option<String>,
    /// Overall time for one call, retries included, in milliseconds.
    #[uniffi(default = 15000)]
    pub request_timeout_ms: u64,
    /// Tolerance for clock differences when checking `exp`, `nbf` and `iat` before sending.
    #[uniffi(default = 60)]
    pub clock_leeway_seconds: u64,
    /// Refresh the session automatically before it expires.
    #[uniffi(default = true)]
    pub auto_refresh: bool,
    /// How long before expiry (server time) the automatic refresh happens. Capped at half the
    /// session's lifetime, so a short session is not refreshed in a loop.
    #[uniffi(default = 300)]
    pub refresh_margin_seconds: u64,
    /// True on the first launch after the app was (re)installed; the platform layer finds out
    /// (a marker in app-private storage) and sets it. A session that a previous install left in
    /// the keychain (which survives uninstall on iOS) is then deleted instead of restored.
    #[uniffi(default = false)]
    pub fresh_install: bool,
    /// Bind each session to a new session key (`sessionPublicKey`, checked against the token's
    /// `session_public_key`). Takes effect only on a client given a `KeySigner`.
    #[uniffi(default = true)]
    pub bind_session_key: bool,
}

impl ClientConfig {
    /// A configuration with every default, for `environment_id`.
    pub fn new(environment_id: impl Into<String>) -> Self {
        Self {
            environment_id: environment_id.into(),
            api_base_url: None,
            app_origin: None,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            clock_leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            auto_refresh: true,
            refresh_margin_seconds: DEFAULT_REFRESH_MARGIN_SECONDS,
            fresh_install: false,
            bind_session_key: true,
        }
    }

    pub fn with_api_base_url(mut self, url: impl Into<String>) -> Self {
        self.api_base_url = Some(url.into());
        self
    }
}

/// A configuration that passed validation.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub environment_id: String,
    /// Without a trailing slash.
    pub api_base_url: String,
    pub origin: Option<String>,
    pub timeout: Duration,
    pub leeway_seconds: u64,
    pub auto_refresh: bool,
    pub refresh_margin_seconds: i64,
    pub fresh_install: bool,
    pub bind_session_key: bool,
}

impl TryFrom<ClientConfig> for Settings {
    type Error = Error;

    fn try_from(config: ClientConfig) -> Result<Self, Error> {
        if !is_environment_id(&config.environment_id) {
            return Err(invalid(
                "environment_id",
                "must be a lowercase UUID, as shown in Dynamic's dashboard",
            ));
        }
        let base = config
            .api_base_url
            .as_deref()
            .unwrap_or(DEFAULT_API_BASE_URL);
        let api_base_url = validate_base_url(base)?;
        let origin = config
            .app_origin
            .as_deref()
            .map(validate_origin)
            .transpose()?;
        if config.request_timeout_ms == 0 || config.request_timeout_ms > MAX_REQUEST_TIMEOUT_MS {
            return Err(invalid(
                "request_timeout_ms",
                format!("must be between 1 and {MAX_REQUEST_TIMEOUT_MS}"),
            ));
        }
        if config.clock_leeway_seconds > 3600 {
            return Err(invalid("clock_leeway_seconds", "must be at most 3600"));
        }
        if config.refresh_margin_seconds > 7 * 24 * 3600 {
            return Err(invalid("refresh_margin_seconds", "must be at most a week"));
        }
        Ok(Self {
            environment_id: config.environment_id,
            api_base_url,
            origin,
            timeout: Duration::from_millis(config.request_timeout_ms),
            leeway_seconds: config.clock_leeway_seconds,
            auto_refresh: config.auto_refresh,
            refresh_margin_seconds: config.refresh_margin_seconds as i64,
            fresh_install: config.fresh_install,
            bind_session_key: config.bind_session_key,
        })
    }
}

fn invalid(field: &'static str, detail: impl Into<String>) -> Error {
    Error::Config {
        field,
        detail: detail.into(),
    }
}

fn validate_base_url(base: &str) -> Result<String, Error> {
    let url = Url::parse(base).map_err(|e| invalid("api_base_url", format!("not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(invalid(
                "api_base_url",
                "http:// is allowed only for a loopback host (127.0.0.1, ::1, localhost); use https://",
            ));
        }
        other => {
            return Err(invalid(
                "api_base_url",
                format!("unsupported scheme {other}"),
            ));
        }
    }
    let credentials = !url.username().is_empty() || url.password().is_some();
    if url.query().is_some() || url.fragment().is_some() || credentials {
        return Err(invalid(
            "api_base_url",
            "must not carry credentials, a query or a fragment",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn validate_origin(origin: &str) -> Result<String, Error> {
    let url = Url::parse(origin).map_err(|e| invalid("app_origin", format!("not a URL: {e}")))?;
    let serialized = url.origin().ascii_serialization();
    if serialized == "null" {
        return Err(invalid(
            "app_origin",
            "must have a scheme and a host, e.g. https://app.example.com",
        ));
    }
    Ok(serialized)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = "2762a57b-faa4-41ce-9f16-abff9300e2c9";

    fn settings(config: ClientConfig) -> Result<Settings, String> {
        Settings::try_from(config).map_err(|e| match e {
            Error::Config { field, .. } => field.to_owned(),
            other => other.to_string(),
        })
    }

    #[test]
    fn defaults_point_at_dynamic_production() {
        let s = settings(ClientConfig::new(ENV)).unwrap();
        assert_eq!(s.api_base_url, DEFAULT_API_BASE_URL);
        assert_eq!(s.timeout, Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS));
        assert_eq!(s.origin, None);
    }

    #[test]
    fn environment_id_must_be_a_lowercase_uuid() {
        assert_eq!(
            settings(ClientConfig::new("not-a-uuid")).unwrap_err(),
            "environment_id"
        );
        assert_eq!(
            settings(ClientConfig::new(ENV.to_uppercase())).unwrap_err(),
            "environment_id"
        );
    }

    #[test]
    fn plain_http_is_refused_unless_the_host_is_loopback() {
        for ok in [
            "http://127.0.0.1:4000/api/v0",
            "http://localhost:1/api/v0/",
            "http://[::1]:9/api/v0",
        ] {
            assert!(
                settings(ClientConfig::new(ENV).with_api_base_url(ok)).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "https://:secret@example.com/api/v0",
            "https://user@example.com/api/v0",
            "https://example.com/api/v0?x=1",
            "http://example.com/api/v0",
            "http://10.0.0.2/api/v0",
            "ftp://127.0.0.1/",
            "nonsense",
        ] {
            assert_eq!(
                settings(ClientConfig::new(ENV).with_api_base_url(bad)).unwrap_err(),
                "api_base_url",
                "{bad}"
            );
        }
    }

    #[test]
    fn trailing_slashes_are_dropped_from_the_base() {
        let s = settings(ClientConfig::new(ENV).with_api_base_url("https://example.com/api/v0/"))
            .unwrap();
        assert_eq!(s.api_base_url, "https://example.com/api/v0");
    }

    #[test]
    fn the_origin_is_reduced_to_scheme_host_and_port() {
        let mut config = ClientConfig::new(ENV);
        config.app_origin = Some("https://app.example.com:8443/deep/link?x=1".into());
        assert_eq!(
            settings(config).unwrap().origin.as_deref(),
            Some("https://app.example.com:8443")
        );
        let mut bad = ClientConfig::new(ENV);
        bad.app_origin = Some("not an origin".into());
        assert_eq!(settings(bad).unwrap_err(), "app_origin");
    }

    #[test]
    fn timeouts_must_be_positive_and_bounded() {
        let mut config = ClientConfig::new(ENV);
        config.request_timeout_ms = 0;
        assert_eq!(settings(config).unwrap_err(), "request_timeout_ms");
    }
}
