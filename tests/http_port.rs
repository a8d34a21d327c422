//! The HTTP port (`HttpTransport`) driven by an implementation outside the crate: a small
//! HTTP/1.1 client written here over tokio sockets, as a platform's OkHttp or URLSession adapter
//! would be. Sign-in, refresh, device binding and the fault matrix give the same typed errors
//! through it as through the built-in reqwest stack, and whatever a transport hands back is
//! checked by the core: redirects, oversized bodies, malformed statuses and headers, a transport
//! that never answers. This file also runs in the mobile build (`--no-default-features`).

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dynamic_byoa::{
    ByoaError, ClientConfig, ClientDependencies, DynamicClient, HttpError, HttpHeader, HttpMethod,
    HttpRequest, HttpResponse, HttpTransport, MemoryStorage, NetworkErrorKind, RejectionReason,
    SoftwareKeySigner,
};
use dynamic_byoa_emulator::Fault;
use support::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// A minimal HTTP/1.1 client: one connection per request (`connection: close`), plain HTTP to
/// loopback only, `content-length` or read-to-end bodies. What the port asks of a platform
/// transport, and no more.
#[derive(Default)]
struct LoopbackHttp {
    sent: AtomicUsize,
    /// Header names of every request, in order.
    seen: Mutex<Vec<(HttpMethod, String, Vec<String>)>>,
}

impl LoopbackHttp {
    fn requests(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }

    async fn exchange(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = request.url();
        let rest = url.strip_prefix("http://").ok_or_else(|| HttpError::Tls {
            detail: "this test transport speaks plain HTTP only".into(),
        })?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let mut stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| HttpError::Connect {
                detail: e.to_string(),
            })?;
        let broke = |e: std::io::Error| HttpError::Other {
            detail: e.to_string(),
        };
        let mut head = format!(
            "{} {path} HTTP/1.1\r\nhost: {authority}\r\n",
            request.method()
        );
        for header in request.headers() {
            head.push_str(&format!("{}: {}\r\n", header.name, header.value));
        }
        let body = request.body();
        head.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        ));
        stream.write_all(head.as_bytes()).await.map_err(broke)?;
        stream.write_all(&body).await.map_err(broke)?;
        read_response(stream).await.map_err(broke)
    }
}

async fn read_response(stream: tokio::net::TcpStream) -> std::io::Result<HttpResponse> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {line:?}")))?;
    let mut headers = Vec::new();
    let mut length = None;
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<usize>().ok();
        }
        headers.push(HttpHeader {
            name: name.to_owned(),
            value: value.trim().to_owned(),
        });
    }
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length, 0);
            reader.read_exact(&mut body).await?;
        }
        None => {
            reader.read_to_end(&mut body).await?;
        }
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
        url: None,
    })
}

#[async_trait::async_trait]
impl HttpTransport for LoopbackHttp {
    async fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, HttpError> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        let names = request.headers().into_iter().map(|h| h.name).collect();
        self.seen
            .lock()
            .unwrap()
            .push((request.method(), request.url(), names));
        let timeout = Duration::from_millis(request.timeout_ms() as u64);
        match tokio::time::timeout(timeout, self.exchange(&request)).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::Timeout {
                detail: "timeout_ms elapsed".into(),
            }),
        }
    }
}

/// A transport that rewrites every sign-in response with `how`, and passes the rest on as a
/// `LoopbackHttp` received them.
struct Misbehaving {
    inner: LoopbackHttp,
    how: fn(HttpResponse, &HttpRequest) -> HttpResponse,
}

#[async_trait::async_trait]
impl HttpTransport for Misbehaving {
    async fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, HttpError> {
        let response = self.inner.send(request.clone()).await?;
        Ok(if request.url().ends_with(SIGNIN) {
            (self.how)(response, &request)
        } else {
            response
        })
    }
}

fn misbehaving(how: fn(HttpResponse, &HttpRequest) -> HttpResponse) -> Arc<Misbehaving> {
    Arc::new(Misbehaving {
        inner: LoopbackHttp::default(),
        how,
    })
}

/// Never answers, and counts the calls the client dropped (cancelled).
#[derive(Default)]
struct Silent {
    started: AtomicUsize,
    cancelled: Arc<AtomicUsize>,
}

struct CountsDrop(Arc<AtomicUsize>);

impl Drop for CountsDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl HttpTransport for Silent {
    async fn send(&self, _request: Arc<HttpRequest>) -> Result<HttpResponse, HttpError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        let _guard = CountsDrop(self.cancelled.clone());
        std::future::pending().await
    }
}

const SIGNIN: &str = "externalAuth/signin";

/// Once armed, holds each answer to `.well-known/jwks` until released: the server stamped its
/// `Date` before the device clock moved on, as when a phone is suspended mid-request.
#[derive(Default)]
struct LateAnswers {
    inner: LoopbackHttp,
    armed: AtomicBool,
    answered: AtomicUsize,
    released: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl HttpTransport for LateAnswers {
    async fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, HttpError> {
        let response = self.inner.send(request.clone()).await;
        if self.armed.load(Ordering::SeqCst) && request.url().ends_with(".well-known/jwks") {
            let released = self.released.notified();
            self.answered.fetch_add(1, Ordering::SeqCst);
            released.await;
        }
        response
    }
}

fn client_on(config: ClientConfig, http: Arc<dyn HttpTransport>) -> Arc<DynamicClient> {
    let dependencies = ClientDependencies {
        http_transport: Some(http),
        ..Default::default()
    };
    DynamicClient::new(config, dependencies).expect("valid config")
}

async fn sign_in_through(fx: &Fixture, http: Arc<dyn HttpTransport>) -> ByoaError {
    let client = client_on(fx.config(), http);
    sign_in(&client, &fx.jwt_for("ada"), "ada")
        .await
        .unwrap_err()
}

#[tokio::test]
async fn sign_in_and_refresh_go_through_the_apps_transport() {
    let fx = Fixture::start().await;
    let http = Arc::new(LoopbackHttp::default());
    let client = client_on(fx.config(), http.clone());
    let session = sign_in(&client, &fx.jwt_for("ada"), "ada").await.unwrap();
    assert_eq!(session.user.external_user_id.as_deref(), Some("ada"));
    let refreshed = client.auth().refresh().await.unwrap();
    assert_eq!(refreshed.user.user_id, session.user.user_id);
    client.auth().sign_out().await;
    // Sign-in, the keys fetched beside it, refresh, revoke: all through the port.
    assert!(http.requests() >= 4, "{}", http.requests());
    let seen = http.seen.lock().unwrap();
    let signin = seen
        .iter()
        .find(|(_, url, _)| url.ends_with(SIGNIN))
        .unwrap();
    assert_eq!(signin.0, HttpMethod::Post);
    for name in [
        "x-dyn-version",
        "x-dyn-api-version",
        "x-dyn-request-id",
        "content-type",
    ] {
        assert!(
            signin.2.iter().any(|n| n == name),
            "{name} in {:?}",
            signin.2
        );
    }
}

#[tokio::test]
async fn the_fault_matrix_gives_the_same_typed_errors_through_the_port() {
    let fx = Fixture::start().await;
    let http = Arc::new(LoopbackHttp::default());
    let client = client_on(fx.config(), http.clone());
    let jwt = fx.jwt_for("bea");

    fx.emulator
        .inject_faults(SIGNIN, vec![Fault::status(503), Fault::status(502)]);
    sign_in(&client, &jwt, "bea")
        .await
        .expect("retried past 503 and 502");

    fx.emulator.inject_faults(
        SIGNIN,
        vec![Fault::status(500).with_body(r#"{"error":"boom"}"#)],
    );
    let error = sign_in(&client, &jwt, "bea").await.unwrap_err();
    assert_eq!(
        error,
        ByoaError::ServerError {
            status: 500,
            server_detail: "boom".into()
        }
    );

    fx.emulator.inject_faults(
        SIGNIN,
        vec![Fault::status(429).with_header("retry-after", "17")],
    );
    let error = sign_in(&client, &jwt, "bea").await.unwrap_err();
    assert_eq!(
        error,
        ByoaError::RateLimited {
            retry_after_seconds: Some(17)
        }
    );

    fx.emulator.inject_faults(
        SIGNIN,
        vec![Fault::status(200).with_body("<html>portal</html>")],
    );
    let error = sign_in(&client, &jwt, "bea").await.unwrap_err();
    assert!(
        matches!(error, ByoaError::InvalidResponse { status: 200, .. }),
        "{error:?}"
    );

    let forged = jwt.rsplit_once('.').unwrap().0.to_owned() + ".c2lnbmF0dXJlc2lnbmF0dXJl";
    let error = sign_in(&client, &forged, "bea").await.unwrap_err();
    assert!(
        matches!(
            error,
            ByoaError::ExternalAuthRejected {
                reason: RejectionReason::Signature,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_connection_failure_from_the_transport_is_a_connect_error_and_is_retried() {
    let fx = Fixture::start().await;
    let base = format!("http://127.0.0.1:{}/api/v0", closed_port());
    let http = Arc::new(LoopbackHttp::default());
    let client = client_on(ClientConfig::new(ENV).with_api_base_url(base), http.clone());
    let error = sign_in(&client, &fx.jwt_for("cem"), "cem")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ByoaError::Network {
                kind: NetworkErrorKind::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    let signins = http
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.1.ends_with(SIGNIN))
        .count();
    assert_eq!(signins, 3, "the first attempt and two retries");
}

#[tokio::test]
async fn a_server_date_that_arrives_after_the_device_clock_jumped_is_not_trusted() {
    // Found by the soak: the expiry check asks the server for the time. An answer stamped
    // before a jump of the device clock (a clock change, a suspended app) and read after it set
    // the offset off by the jump, and a fresh external JWT then read as "not yet valid".
    let fx = Fixture::start().await;
    let clock = Arc::new(dynamic_byoa::clock::ManualClock::starting_now());
    let http = Arc::new(LateAnswers::default());
    let dependencies = ClientDependencies {
        http_transport: Some(http.clone()),
        ..Default::default()
    };
    let client = DynamicClient::with_clock(fx.config(), dependencies, clock.clone()).unwrap();
    let recorder = Recorder::attach(&client);
    sign_in(&client, &fx.jwt_for("jump"), "jump").await.unwrap();

    http.armed.store(true, Ordering::SeqCst);
    fx.pass_time(&clock, Duration::from_secs(3 * 3600));
    wait_until("an expiry check", || {
        http.answered.load(Ordering::SeqCst) > 0
    })
    .await;
    fx.pass_time(&clock, Duration::from_secs(600));
    http.released.notify_waiters();
    recorder
        .wait_for("expiry", |s| {
            !s.is_signed_in() && *s != dynamic_byoa::AuthState::Restoring
        })
        .await;

    http.armed.store(false, Ordering::SeqCst);
    sign_in(&client, &fx.jwt_for("jump"), "jump")
        .await
        .expect("a JWT minted now is valid now");
}

#[tokio::test]
async fn a_device_bound_session_works_through_the_port() {
    let fx = Fixture::start_with(|env| env.require_device_signature = true).await;
    let http = Arc::new(LoopbackHttp::default());
    let dependencies = ClientDependencies {
        key_signer: Some(Arc::new(SoftwareKeySigner::new(Arc::new(
            MemoryStorage::new(),
        )))),
        http_transport: Some(http.clone()),
        ..Default::default()
    };
    let client = DynamicClient::new(fx.config(), dependencies).unwrap();
    sign_in(&client, &fx.jwt_for("dia"), "dia").await.unwrap();
    client.auth().refresh().await.unwrap();
    let seen = http.seen.lock().unwrap();
    let signin = seen
        .iter()
        .find(|(_, url, _)| url.ends_with(SIGNIN))
        .unwrap();
    assert!(
        signin.2.iter().any(|n| n == "x-dynamic-device-nonce"),
        "{:?}",
        signin.2
    );
}

#[tokio::test]
async fn a_redirect_is_refused_even_when_the_transport_followed_it() {
    let fx = Fixture::start().await;
    let returned = misbehaving(|mut response, _| {
        response.status = 302;
        response.headers.push(HttpHeader {
            name: "location".into(),
            value: "https://elsewhere.example/".into(),
        });
        response
    });
    let followed = misbehaving(|mut response, _| {
        response.url = Some("https://elsewhere.example/signin".into());
        response
    });
    for http in [returned, followed] {
        let client = client_on(fx.config(), http);
        let error = sign_in(&client, &fx.jwt_for("eli"), "eli")
            .await
            .unwrap_err();
        let ByoaError::InvalidResponse { detail, .. } = &error else {
            panic!("{error:?}");
        };
        assert!(detail.contains("redirect"), "{detail}");
        assert!(client.auth().session().is_none());
    }
}

#[tokio::test]
async fn the_same_url_spelled_back_differently_is_not_a_redirect() {
    let fx = Fixture::start().await;
    let http = misbehaving(|mut response, request| {
        response.url = Some(request.url().replacen("http://", "HTTP://", 1) + "/");
        response
    });
    let client = client_on(fx.config(), http);
    sign_in(&client, &fx.jwt_for("fay"), "fay").await.unwrap();
}

#[tokio::test]
async fn an_oversized_body_is_refused_whatever_the_transport_hands_over() {
    let fx = Fixture::start().await;
    let error = sign_in_through(
        &fx,
        misbehaving(|mut response, request| {
            let limit = request.max_response_bytes() as usize;
            response.body.resize(limit + 1, b' ');
            response
        }),
    )
    .await;
    let ByoaError::InvalidResponse { detail, .. } = &error else {
        panic!("{error:?}");
    };
    assert!(detail.contains("1 MiB"), "{detail}");
}

#[tokio::test]
async fn an_oversized_error_body_still_reads_as_its_status_and_is_retried() {
    let fx = Fixture::start().await;
    let error = sign_in_through(
        &fx,
        misbehaving(|mut response, request| {
            // A proxy's large HTML error page.
            response.status = 503;
            response.body = vec![b'<'; request.max_response_bytes() as usize + 1];
            response
        }),
    )
    .await;
    assert!(
        matches!(error, ByoaError::ServerError { status: 503, .. }),
        "{error:?}"
    );
    assert_eq!(fx.signin_requests(), 3, "the first attempt and two retries");
}

#[tokio::test]
async fn a_malformed_status_or_header_is_an_invalid_response_never_a_panic() {
    let fx = Fixture::start().await;
    let statuses: [fn(HttpResponse, &HttpRequest) -> HttpResponse; 4] = [
        |mut r, _| {
            r.status = 1000;
            r
        },
        |mut r, _| {
            r.status = -1;
            r
        },
        |mut r, _| {
            r.headers.push(HttpHeader {
                name: "bad header".into(),
                value: "x".into(),
            });
            r
        },
        |mut r, _| {
            r.headers.push(HttpHeader {
                name: "x-injected".into(),
                value: "a\r\nset-cookie: b".into(),
            });
            r
        },
    ];
    for how in statuses {
        let http = misbehaving(how);
        let error = sign_in_through(&fx, http).await;
        assert!(
            matches!(error, ByoaError::InvalidResponse { .. }),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn a_transport_that_never_answers_is_bounded_and_cancelled_by_the_overall_timeout() {
    let fx = Fixture::start().await;
    let silent = Arc::new(Silent::default());
    let mut config = fx.config();
    config.request_timeout_ms = Some(300);
    let client = client_on(config, silent.clone());
    let started = std::time::Instant::now();
    let error = tokio::time::timeout(
        Duration::from_secs(10),
        sign_in(&client, &fx.jwt_for("gus"), "gus"),
    )
    .await
    .expect("bounded by the client's timeout, not this test's")
    .unwrap_err();
    assert!(
        matches!(
            error,
            ByoaError::Network {
                kind: NetworkErrorKind::Timeout,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Every call the client gave up on was dropped, which is how a platform hears "cancel".
    let started_calls = silent.started.load(Ordering::SeqCst);
    assert!(started_calls >= 1);
    wait_until("every abandoned transport call to be cancelled", || {
        silent.cancelled.load(Ordering::SeqCst) >= started_calls
    })
    .await;
}

#[tokio::test]
async fn a_transport_error_text_is_scrubbed_of_tokens() {
    struct Leaky;
    #[async_trait::async_trait]
    impl HttpTransport for Leaky {
        async fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, HttpError> {
            // A careless adapter that puts the request in its error text.
            Err(HttpError::Other {
                detail: format!(
                    "failed: {:?} body {}",
                    request.headers(),
                    String::from_utf8_lossy(&request.body())
                ),
            })
        }
    }
    let fx = Fixture::start().await;
    let jwt = fx.jwt_for("hal");
    let client = client_on(fx.config(), Arc::new(Leaky));
    let error = sign_in(&client, &jwt, "hal").await.unwrap_err();
    assert_eq!(error.code(), "network");
    assert_no_token_in(&error, &jwt);
}

#[tokio::test]
async fn printing_a_request_shows_no_header_value_and_no_body() {
    struct Printing(Mutex<Vec<String>>);
    #[async_trait::async_trait]
    impl HttpTransport for Printing {
        async fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, HttpError> {
            assert!(request.connect_timeout_ms() > 0);
            assert!(request.connect_timeout_ms() <= request.timeout_ms());
            let response = HttpResponse {
                status: 200,
                headers: request.headers(),
                body: request.body(),
                url: None,
            };
            self.0.lock().unwrap().extend([
                format!("{request:?}"),
                request.to_string(),
                format!("{:?}", request.headers()),
                format!("{response:?}"),
            ]);
            Err(HttpError::Connect {
                detail: "offline".into(),
            })
        }
    }
    let fx = Fixture::start().await;
    let jwt = fx.jwt_for("ivy");
    let printing = Arc::new(Printing(Mutex::default()));
    let client = client_on(fx.config(), printing.clone());
    let _ = sign_in(&client, &jwt, "ivy").await;
    let printed = printing.0.lock().unwrap();
    assert!(!printed.is_empty());
    for text in printed.iter() {
        for segment in jwt.split('.') {
            assert!(!text.contains(segment), "{text}");
        }
    }
}

#[cfg(not(feature = "reqwest-transport"))]
#[test]
fn the_mobile_build_refuses_a_client_without_a_transport() {
    let error =
        DynamicClient::new(ClientConfig::new(ENV), ClientDependencies::default()).unwrap_err();
    assert!(
        matches!(&error, ByoaError::InvalidConfiguration { field, .. } if field == "http_transport"),
        "{error:?}"
    );
}
