//! The built-in `HttpTransport`: reqwest over rustls (ring) with the Mozilla roots compiled in.
//! The default for the CLI, desktop and tests; phones pass the platform's own transport and are
//! built without this (`--no-default-features`).

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::ports::http::{
    HttpError, HttpHeader, HttpMethod, HttpRequest, HttpResponse, HttpTransport,
};

/// Connections idle longer than this are closed.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

pub(crate) struct ReqwestTransport {
    http: reqwest::Client,
}

impl ReqwestTransport {
    pub fn new(connect_timeout: Duration) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            // The port's rule: a redirect is returned, never followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Internal(format!("HTTP client: {e}")))?;
        Ok(Self { http })
    }
}

#[async_trait::async_trait]
impl HttpTransport for ReqwestTransport {
    async fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, HttpError> {
        let method = match request.method() {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
        };
        let timeout = Duration::from_millis(request.timeout_ms().max(1) as u64);
        let mut builder = self
            .http
            .request(method, request.url())
            .timeout(timeout)
            .body(request.body());
        for header in request.headers() {
            builder = builder.header(header.name, header.value);
        }
        let mut response = builder.send().await.map_err(|e| classify(&e))?;
        let status = i32::from(response.status().as_u16());
        let url = Some(response.url().as_str().to_owned());
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| HttpHeader {
                name: name.as_str().to_owned(),
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            })
            .collect();
        let limit = usize::try_from(request.max_response_bytes()).unwrap_or(usize::MAX);
        let mut body = Vec::new();
        // Stops reading past the limit: the client refuses the body anyway.
        while body.len() <= limit {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                // An error's body is best effort: its status is the answer.
                Err(_) if !(200..=299).contains(&status) => break,
                Err(error) => return Err(classify(&error)),
            }
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
            url,
        })
    }
}

/// reqwest's error as the port's kinds, with the innermost cause as the detail ("Connection
/// refused", "received corrupt message"): the layers above it only repeat the URL.
fn classify(error: &reqwest::Error) -> HttpError {
    let detail = root_cause(error);
    // TLS first (a handshake failure is also a connect error), then connect (a connect that
    // timed out never reached the server, so it may be sent again), then timeout.
    if is_tls(error) {
        HttpError::Tls { detail }
    } else if error.is_connect() {
        HttpError::Connect { detail }
    } else if error.is_timeout() {
        HttpError::Timeout { detail }
    } else {
        HttpError::Other { detail }
    }
}

/// True when a TLS handshake or certificate check failed somewhere in the error's causes.
fn is_tls(source: &reqwest::Error) -> bool {
    causes(source).any(|err| err.downcast_ref::<rustls::Error>().is_some())
}

/// The text of the deepest error in the chain.
fn root_cause(source: &reqwest::Error) -> String {
    causes(source)
        .last()
        .map_or_else(|| source.to_string(), |e| e.to_string())
}

/// The error and its causes, looking inside io::Errors: `io::Error::source()` skips the error
/// it wraps, and hyper nests rustls's error inside two of them.
fn causes(
    source: &reqwest::Error,
) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> + '_ {
    let first: &(dyn std::error::Error + 'static) = source;
    std::iter::successors(Some(first), |err| {
        match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        }
    })
}

/// rustls over ring with the Mozilla roots compiled in: identical on every desktop, no C
/// toolchain beyond ring's.
fn tls_config() -> Result<rustls::ClientConfig, Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
