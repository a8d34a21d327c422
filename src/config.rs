//! Client configuration: the record apps fill in, and its validated form.
//!
//! Every optional setting is `None` by default and the defaults are written once, here, as the
//! `DEFAULT_*` constants `Settings` applies: a binding's default can never drift from the core's.
//!
//! May import: `error`, `support`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use dynamic_byoa_contract::paths::{DEFAULT_API_BASE_URL, is_environment_id};

use crate::error::Error;

/// Default overall time for one API call, retries included.
pub const DEFAULT_REQUEST_TIMEOUT_MS: i64 = 15_000;
/// Default tolerance for clock differences in the external JWT's time claims.
pub const DEFAULT_CLOCK_LEEWAY_SECONDS: i64 = 60;
/// Default time before expiry at which the session is refreshed.
pub const DEFAULT_REFRESH_MARGIN_SECONDS: i64 = 300;
/// Longest overall time a call may be given.
const MAX_REQUEST_TIMEOUT_MS: i64 = 120_000;

/// How to reach Dynamic. Only `environment_id` is required; every other setting left unset
/// (`None`) takes the default its documentation names.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct ClientConfig {
    /// The environment id from Dynamic's dashboard: a lowercase UUID.
    pub environment_id: String,
    /// API base including `/api/v0`; default `https://app.dynamicauth.com/api/v0`.
    /// `http://` is accepted only for loopback hosts (a local emulator).
    #[uniffi(default)]
    pub api_base_url: Option<String>,
    /// The app's origin (for example its universal link), sent as `Origin`. Dynamic puts it in
    /// the session token's `aud`. Only scheme, host and port are used.
    #[uniffi(default)]
    pub app_origin: Option<String>,
    /// Overall time for one call, retries included, in milliseconds (1 to 120 000); default
    /// 15 000.
    #[uniffi(default)]
    pub request_timeout_ms: Option<i64>,
    /// Tolerance for clock differences when checking `exp`, `nbf` and `iat` before sending, in
    /// seconds (0 to 3600); default 60.
    #[uniffi(default)]
    pub clock_leeway_seconds: Option<i64>,
    /// Refresh the session automatically before it expires; default true.
    #[uniffi(default)]
    pub auto_refresh: Option<bool>,
    /// How long before expiry (server time) the automatic refresh happens, in seconds (0 to a
    /// week); default 300. Capped at half the session's lifetime, so a short session is not
    /// refreshed in a loop.
    #[uniffi(default)]
    pub refresh_margin_seconds: Option<i64>,
    /// True on the first launch after the app was (re)installed; the platform layer finds out
    /// (a marker in app-private storage) and sets it. A session that a previous install left in
    /// the keychain (which survives uninstall on iOS) is then deleted instead of restored.
    #[uniffi(default)]
    pub fresh_install: bool,
    /// Bind each session to a new session key (`sessionPublicKey`, checked against the token's
    /// `session_public_key`); default true. Takes effect only on a client given a `KeySigner`.
    #[uniffi(default)]
    pub bind_session_key: Option<bool>,
}

impl ClientConfig {
    /// A configuration with every default, for `environment_id`.
    pub fn new(environment_id: impl Into<String>) -> Self {
        Self {
            environment_id: environment_id.into(),
            ..Self::default()
        }
    }

    pub fn with_api_base_url(mut self, url: impl Into<String>) -> Self {
        self.api_base_url = Some(url.into());
        self
    }
}

/// A configuration that passed validation, with the defaults applied.
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
        let timeout_ms = within(
            "request_timeout_ms",
            config.request_timeout_ms,
            DEFAULT_REQUEST_TIMEOUT_MS,
            1..=MAX_REQUEST_TIMEOUT_MS,
        )?;
        let leeway_seconds = within(
            "clock_leeway_seconds",
            config.clock_leeway_seconds,
            DEFAULT_CLOCK_LEEWAY_SECONDS,
            0..=3600,
        )?;
        let refresh_margin_seconds = within(
            "refresh_margin_seconds",
            config.refresh_margin_seconds,
            DEFAULT_REFRESH_MARGIN_SECONDS,
            0..=7 * 24 * 3600,
        )?;
        Ok(Self {
            environment_id: config.environment_id,
            api_base_url,
            origin,
            timeout: Duration::from_millis(timeout_ms as u64),
            leeway_seconds: leeway_seconds as u64,
            auto_refresh: config.auto_refresh.unwrap_or(true),
            refresh_margin_seconds,
            fresh_install: config.fresh_install,
            bind_session_key: config.bind_session_key.unwrap_or(true),
        })
    }
}

impl Settings {
    /// True for a URL this client may send a request to: HTTPS, or plain HTTP to loopback.
    pub fn allows_url(&self, url: &str) -> bool {
        parse(url).is_ok_and(|parts| match parts.scheme.as_str() {
            "https" => true,
            "http" => parts.is_loopback(),
            _ => false,
        })
    }
}

/// `value`, or `default` when unset, if it lies in `range`.
fn within(
    field: &'static str,
    value: Option<i64>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, Error> {
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            field,
            format!("must be between {} and {}", range.start(), range.end()),
        ))
    }
}

fn invalid(field: &'static str, detail: impl Into<String>) -> Error {
    Error::Config {
        field,
        detail: detail.into(),
    }
}

/// An absolute http(s) URL taken apart, with the host lowercased. Written here rather than
/// taken from the `url` crate: the mobile build links no URL parser (IDNA tables alone are
/// tens of KiB), and two schemes with ASCII hosts are all a base URL needs.
struct UrlParts {
    scheme: String,
    host: Host,
    port: Option<u16>,
    /// From the first `/` (may be empty), query and fragment excluded.
    path: String,
    has_credentials: bool,
    has_query_or_fragment: bool,
}

enum Host {
    Domain(String),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl UrlParts {
    fn is_loopback(&self) -> bool {
        match &self.host {
            Host::Domain(domain) => domain == "localhost",
            Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
            Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
        }
    }

    /// `scheme://host[:port]`, the port left out when it is the scheme's default.
    fn origin(&self) -> String {
        let host = match &self.host {
            Host::Domain(domain) => domain.clone(),
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => format!("[{ip}]"),
        };
        let default_port = if self.scheme == "https" { 443 } else { 80 };
        match self.port {
            Some(port) if port != default_port => format!("{}://{host}:{port}", self.scheme),
            _ => format!("{}://{host}", self.scheme),
        }
    }
}

fn parse(text: &str) -> Result<UrlParts, String> {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    // A backslash ends the authority for a WHATWG parser and not for this one: refused, so
    // that no two readings of one URL can differ.
    if text
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b == b'\\')
    {
        return Err("contains spaces, backslashes or control characters".into());
    }
    let (scheme, rest) = text
        .split_once("://")
        .ok_or("not an absolute URL (scheme://host/...)")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(format!("unsupported scheme {scheme}"));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let has_credentials = authority.contains('@');
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = split_port(authority)?;
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    let path = check_path(&tail[..path_end])?;
    Ok(UrlParts {
        scheme,
        host: parse_host(host)?,
        port,
        path,
        has_credentials,
        has_query_or_fragment: path_end < tail.len(),
    })
}

/// The path as an HTTP stack sends it back: only RFC 3986 path characters and `%XX` escapes,
/// and no `.` or `..` segments, which a stack would resolve into another URL.
fn check_path(path: &str) -> Result<String, String> {
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Err("the path has a `%` that is not an escape".into());
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b)) {
            return Err("the path has a character that must be %-escaped".into());
        }
        i += 1;
    }
    let dot_segment = path.split('/').any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    });
    if dot_segment {
        return Err("the path has a `.` or `..` segment".into());
    }
    Ok(path.to_owned())
}

/// `host[:port]` or `[v6][:port]`.
fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (v6, after) = bracketed.split_once(']').ok_or("unclosed [ in the host")?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or("junk after the IPv6 host")?),
        };
        (&authority[..v6.len() + 2], port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = port
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u16>().map_err(|_| format!("invalid port `{p}`")))
        .transpose()?;
    Ok((host, port))
}

fn parse_host(host: &str) -> Result<Host, String> {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: Ipv6Addr = v6
            .parse()
            .map_err(|_| format!("invalid IPv6 host `{v6}`"))?;
        if ip.to_ipv4_mapped().is_some() {
            return Err("an IPv4-mapped IPv6 host: write the IPv4 address".into());
        }
        return Ok(Host::Ipv6(ip));
    }
    if host.is_empty() {
        return Err("no host".into());
    }
    if !host.is_ascii() {
        return Err(
            "the host is not ASCII: write an internationalised name in its xn-- form".into(),
        );
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ipv4(ip));
    }
    let labels = || host.split('.');
    let valid = labels().all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    // A name ending in a number is read as an IPv4 address by other parsers (`10.1`).
    let numeric_end = labels()
        .next_back()
        .is_some_and(|label| label.bytes().all(|b| b.is_ascii_digit()));
    if !valid || numeric_end {
        return Err(format!("invalid host `{host}`"));
    }
    Ok(Host::Domain(host.to_ascii_lowercase()))
}

fn validate_base_url(base: &str) -> Result<String, Error> {
    let url = parse(base).map_err(|e| invalid("api_base_url", format!("not a URL: {e}")))?;
    if url.scheme == "http" && !url.is_loopback() {
        return Err(invalid(
            "api_base_url",
            "http:// is allowed only for a loopback host (127.0.0.1, ::1, localhost); use https://",
        ));
    }
    if url.has_query_or_fragment || url.has_credentials {
        return Err(invalid(
            "api_base_url",
            "must not carry credentials, a query or a fragment",
        ));
    }
    Ok(format!(
        "{}{}",
        url.origin(),
        url.path.trim_end_matches('/')
    ))
}

fn validate_origin(origin: &str) -> Result<String, Error> {
    let url = parse(origin).map_err(|e| {
        invalid(
            "app_origin",
            format!("must have a scheme and a host, e.g. https://app.example.com ({e})"),
        )
    })?;
    if url.has_credentials {
        return Err(invalid("app_origin", "must not carry credentials"));
    }
    Ok(url.origin())
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
        assert_eq!(
            s.timeout,
            Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS as u64)
        );
        assert_eq!(s.leeway_seconds, DEFAULT_CLOCK_LEEWAY_SECONDS as u64);
        assert_eq!(s.refresh_margin_seconds, DEFAULT_REFRESH_MARGIN_SECONDS);
        assert!(s.auto_refresh && s.bind_session_key && !s.fresh_install);
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
        for bad in [0, -1, 120_001] {
            let mut config = ClientConfig::new(ENV);
            config.request_timeout_ms = Some(bad);
            assert_eq!(settings(config).unwrap_err(), "request_timeout_ms");
        }
        let mut config = ClientConfig::new(ENV);
        config.clock_leeway_seconds = Some(-1);
        assert_eq!(settings(config).unwrap_err(), "clock_leeway_seconds");
    }

    #[test]
    fn hosts_are_lowercased_and_default_ports_dropped() {
        let s =
            settings(ClientConfig::new(ENV).with_api_base_url("HTTPS://Example.COM:443/api/v0"))
                .unwrap();
        assert_eq!(s.api_base_url, "https://example.com/api/v0");
        let s = settings(ClientConfig::new(ENV).with_api_base_url("https://example.com")).unwrap();
        assert_eq!(s.api_base_url, "https://example.com");
    }

    #[test]
    fn non_ascii_hosts_and_malformed_authorities_are_refused() {
        for bad in [
            "https://bücher.example/api/v0",
            "https://exa mple.com/",
            "https://[::1/api",
            "https://example.com:99999/",
            "https://example..com/",
            "https:///api/v0",
            "https://good.com\\@evil.com/api/v0",
            "https://example.com/api/../v0",
            "https://example.com/api/%2E%2e/v0",
            "https://example.com/api/v0/{x}",
            "https://example.com/ä",
            "https://example.com/%zz",
            "https://example.123/api",
            "https://10.1/api",
            "http://[::ffff:127.0.0.1]/api",
        ] {
            assert_eq!(
                settings(ClientConfig::new(ENV).with_api_base_url(bad)).unwrap_err(),
                "api_base_url",
                "{bad}"
            );
        }
    }

    #[test]
    fn what_the_url_crate_accepted_users_rely_on_is_still_accepted() {
        for (given, stored) in [
            (
                " https://example.com/api/v0\n",
                "https://example.com/api/v0",
            ),
            (
                "https://my_host.example.com/api/v0",
                "https://my_host.example.com/api/v0",
            ),
            ("https://example.com:/api/v0", "https://example.com/api/v0"),
            (
                "https://example.com/api%20v0",
                "https://example.com/api%20v0",
            ),
        ] {
            let s = settings(ClientConfig::new(ENV).with_api_base_url(given)).unwrap();
            assert_eq!(s.api_base_url, stored, "{given:?}");
        }
        for origin in [
            "https://good.com\\@evil.com",
            "https://user@app.example.com",
        ] {
            let mut config = ClientConfig::new(ENV);
            config.app_origin = Some(origin.into());
            assert_eq!(settings(config).unwrap_err(), "app_origin", "{origin}");
        }
    }

    #[test]
    fn a_configuration_error_never_echoes_a_token_the_app_passed_by_mistake() {
        // Found by the client_urls fuzz target: the scheme of the input was quoted as is.
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhYmMifQ.c2lnbmF0dXJlc2lnbmF0dXJl";
        let config = ClientConfig::new(ENV).with_api_base_url(format!("{jwt}://x"));
        let error = crate::ByoaError::from(Settings::try_from(config).unwrap_err());
        assert_eq!(error.code(), "invalid_configuration");
        assert!(!error.to_string().contains("eyJzdWIiOiJhYmMifQ"), "{error}");
    }

    #[test]
    fn only_https_or_loopback_http_urls_may_be_sent_to() {
        let s = settings(ClientConfig::new(ENV)).unwrap();
        assert!(s.allows_url("https://app.dynamicauth.com/api/v0/sdk/x/jwks"));
        assert!(s.allows_url("http://127.0.0.1:9/api"));
        assert!(s.allows_url("http://[::1]:9/api"));
        assert!(!s.allows_url("http://example.com/api"));
        assert!(!s.allows_url("ftp://127.0.0.1/"));
    }
}
