//! `byoa-rn-test-host`: the React Native package's TurboModule spec (`react-native/src/NativeDynamicByoa.ts`),
//! implemented over the real core for jest in Node. Test-only: never linked into the mobile library.
//!
//! It does what the Kotlin and Swift modules do on a phone: hosts real `DynamicClient`s keyed by
//! a handle, forwards every call, and answers with exactly what the Rust bridge functions compute
//! (`dynamic_byoa::bridge`), so the TypeScript layer is tested against the payloads the phones
//! will produce. Here the store is a `FileStorage` in `--storage-dir` (a restart is a new host
//! process on the same directory) and HTTP is the built-in reqwest transport.
//!
//! Protocol: JSON lines on stdio.
//! - request (stdin): `{"id": 7, "method": "signInWithExternalJwt", "args": [handle, jwt, userId]}`,
//!   positional arguments as in the spec;
//! - answer (stdout): `{"id": 7, "result": ...}` or
//!   `{"id": 7, "error": {"code", "message", "userInfo"}}` (a promise rejection, `userInfo` the
//!   parsed `user_info_json`);
//! - event (stdout): `{"event": "onAuthStateChanged", "payload": {"handle", "stateJson", "token"}}`
//!   or `{"event": "onLog", "payload": {"level", "target", "message"}}`.
//!
//! Every line is written whole under stdout's lock. A state event is written while the core
//! delivers it, which is before the call that caused it returns: an answer never overtakes the
//! events of its own call (the order the native modules keep too).
//!
//! Other modes: `--generated-ts` prints `react-native/src/generated/rustErrorCodes.ts`;
//! `--bridge-samples` prints `react-native/src/__fixtures__/bridge-samples.json` (one payload of
//! every error variant, state and record, from the bridge functions); `scripts/test-react-native.sh`
//! fails when the committed copies drift.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use dynamic_byoa::bridge::{
    bridge_elevated_access_json, bridge_rejection, bridge_session_json, bridge_state_json,
};
use dynamic_byoa::{
    AccessTokenOptions, AuthListener, AuthState, ByoaError, ClientConfig, ClientDependencies,
    CredentialFormat, DeviceSignatureReason, DynamicClient, ERROR_CODES, ElevatedAccess,
    FileStorage, KeySignerError, ListenerHandle, LogLevel, Logger, NetworkErrorKind,
    RejectionReason, SignInWithExternalJwtParams, SignOutReason, SignedInSession, StorageError,
    UserProfile, VerifiedCredential, VerifyWithExternalJwtParams, set_logger,
};
use serde_json::{Value, json};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--generated-ts") => {
            print!("{}", generated_ts());
            ExitCode::SUCCESS
        }
        Some("--bridge-samples") => {
            let text = serde_json::to_string_pretty(&bridge_samples()).expect("samples encode");
            println!("{text}");
            ExitCode::SUCCESS
        }
        Some("--storage-dir") if args.len() == 2 => serve(PathBuf::from(&args[1])),
        _ => {
            eprintln!(
                "usage: byoa-rn-test-host --storage-dir DIR | --generated-ts | --bridge-samples"
            );
            ExitCode::from(2)
        }
    }
}

// --- The spec over stdio ---------------------------------------------------------------------

struct Host {
    storage_dir: PathBuf,
    clients: Mutex<HashMap<i64, Entry>>,
    next_handle: AtomicI64,
}

struct Entry {
    client: Arc<DynamicClient>,
    listener: Option<Arc<ListenerHandle>>,
}

/// A failed call: a rejection as the native modules make it.
struct Rejection {
    code: String,
    message: String,
    user_info: Value,
}

impl From<ByoaError> for Rejection {
    fn from(error: ByoaError) -> Self {
        let bridged = bridge_rejection(error);
        Self {
            code: bridged.code,
            message: bridged.message,
            user_info: serde_json::from_str(&bridged.user_info_json).unwrap_or(Value::Null),
        }
    }
}

impl Rejection {
    /// A request the host cannot read: a bug in the test's spec implementation, not in the core.
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            code: "host_bad_request".into(),
            message: message.into(),
            user_info: Value::Null,
        }
    }
}

type Answer = Result<Value, Rejection>;

fn serve(storage_dir: PathBuf) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("byoa-rn-test-host: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let host = Arc::new(Host {
        storage_dir,
        clients: Mutex::new(HashMap::new()),
        next_handle: AtomicI64::new(1),
    });
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let request = match serde_json::from_str::<Value>(&line) {
            Ok(request) => request,
            Err(e) => {
                answer(
                    Value::Null,
                    Err(Rejection::bad_request(format!("not JSON: {e}"))),
                );
                continue;
            }
        };
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let method = request["method"].as_str().unwrap_or_default().to_owned();
        let args = request["args"].as_array().cloned().unwrap_or_default();
        // The spec's synchronous (void) methods run here, in the order they were sent, as a
        // module's method queue runs them; the next request is read only after.
        if let Some(result) = host.call_sync(&method, &args) {
            answer(id, result);
            continue;
        }
        // Promise methods run concurrently, as they do on a phone; each answers when done. The
        // client is looked up here, in sending order, as the native modules do on the calling
        // thread: a `disposeClient` sent right after a `logout` does not stop the sign-out.
        let client = (method != "createClient").then(|| host.client(handle_arg(&args)));
        let host = host.clone();
        runtime.spawn(async move {
            let result = match client {
                Some(Err(rejection)) => Err(rejection),
                Some(Ok(client)) => host.call(&method, &client, &args).await,
                None => host.create_client(arg(&args, 0)),
            };
            answer(id, result);
        });
    }
    // stdin closed: the test is done with this host (or "killed" it for a restart).
    runtime.shutdown_background();
    ExitCode::SUCCESS
}

fn answer(id: Value, result: Answer) {
    let line = match result {
        Ok(result) => json!({"id": id, "result": result}),
        Err(r) => json!({
            "id": id,
            "error": {"code": r.code, "message": r.message, "userInfo": r.user_info},
        }),
    };
    write_line(&line);
}

/// One whole line on stdout, under its lock, so lines from different threads never interleave.
fn write_line(value: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

fn arg(args: &[Value], index: usize) -> &Value {
    args.get(index).unwrap_or(&Value::Null)
}

/// The client handle, exactly: anything but a whole number names no client.
fn handle_arg(args: &[Value]) -> Option<i64> {
    arg(args, 0).as_i64()
}

fn string_arg(args: &[Value], index: usize) -> Result<String, Rejection> {
    arg(args, index)
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Rejection::bad_request(format!("argument {index} must be a string")))
}

impl Host {
    fn client(&self, handle: Option<i64>) -> Result<Arc<DynamicClient>, Rejection> {
        let clients = self.clients.lock().expect("clients lock");
        handle
            .and_then(|handle| clients.get(&handle))
            .map(|entry| entry.client.clone())
            // As the native modules answer it: through the bridge, as a configuration error.
            .ok_or_else(|| {
                ByoaError::InvalidConfiguration {
                    field: "handle".into(),
                    detail: "no client with this handle: it was disposed".into(),
                }
                .into()
            })
    }

    /// The spec's `void` methods; `None` for a promise method.
    fn call_sync(&self, method: &str, args: &[Value]) -> Option<Answer> {
        match method {
            "disposeClient" | "startAuthStateEvents" | "stopAuthStateEvents" | "setLogLevel" => {
                Some(self.run_sync(method, args))
            }
            _ => None,
        }
    }

    fn run_sync(&self, method: &str, args: &[Value]) -> Answer {
        // A void method on a handle that names no client does nothing, as on the phones.
        let handle = handle_arg(args).unwrap_or(-1);
        match method {
            "disposeClient" => {
                let entry = self.clients.lock().expect("clients lock").remove(&handle);
                if let Some(listener) = entry.and_then(|e| e.listener) {
                    listener.remove();
                }
                Ok(Value::Null)
            }
            "startAuthStateEvents" => self.start_events(handle),
            "stopAuthStateEvents" => {
                let mut clients = self.clients.lock().expect("clients lock");
                if let Some(listener) = clients.get_mut(&handle).and_then(|e| e.listener.take()) {
                    listener.remove();
                }
                Ok(Value::Null)
            }
            "setLogLevel" => {
                let level = match arg(args, 0).as_str() {
                    Some("error") => Some(LogLevel::Error),
                    Some("warn") => Some(LogLevel::Warn),
                    Some("info") => Some(LogLevel::Info),
                    Some("debug") => Some(LogLevel::Debug),
                    Some("trace") => Some(LogLevel::Trace),
                    _ => None,
                };
                match level {
                    Some(level) => set_logger(Some(Arc::new(EventLogger)), level),
                    None => set_logger(None, LogLevel::Error),
                }
                Ok(Value::Null)
            }
            other => Err(Rejection::bad_request(format!(
                "`{other}` is not a void method"
            ))),
        }
    }

    /// A promise method on `client`, the one `args[0]` named when the call was sent.
    async fn call(&self, method: &str, client: &DynamicClient, args: &[Value]) -> Answer {
        match method {
            "signInWithExternalJwt" => {
                let params = SignInWithExternalJwtParams {
                    external_jwt: string_arg(args, 1)?,
                    external_user_id: string_arg(args, 2)?,
                    session_public_key: None,
                };
                let session = client
                    .auth()
                    .external()
                    .sign_in_with_external_jwt(params)
                    .await?;
                Ok(Value::String(bridge_session_json(session)))
            }
            "verifyWithExternalJwt" => {
                let params = VerifyWithExternalJwtParams {
                    external_jwt: string_arg(args, 1)?,
                };
                let access = client
                    .auth()
                    .external()
                    .verify_with_external_jwt(params)
                    .await?;
                Ok(Value::String(bridge_elevated_access_json(access)))
            }
            "restore" => Ok(Value::String(bridge_state_json(
                client.auth().restore().await,
            ))),
            "refresh" => {
                let session = client.auth().refresh().await?;
                Ok(Value::String(bridge_session_json(session)))
            }
            "getAccessToken" => {
                let options = AccessTokenOptions {
                    min_ttl_seconds: arg(args, 1).as_f64().map(|s| s as i64),
                    force_refresh: arg(args, 2).as_bool().unwrap_or(false),
                };
                Ok(Value::String(client.auth().access_token(options).await?))
            }
            "getElevatedAccessToken" => {
                let scopes = arg(args, 1)
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(json!({"token": client.auth().elevated_access_token(scopes)}))
            }
            "logout" => {
                client.auth().sign_out().await;
                Ok(Value::Null)
            }
            other => Err(Rejection::bad_request(format!("unknown method `{other}`"))),
        }
    }

    /// `createClient(config)`: the spec's config object, as the native modules read it.
    fn create_client(&self, config: &Value) -> Answer {
        let text = |key: &str| config.get(key).and_then(Value::as_str).map(str::to_owned);
        let number = |key: &str| config.get(key).and_then(Value::as_f64).map(|n| n as i64);
        let flag = |key: &str| config.get(key).and_then(Value::as_bool);
        let config = ClientConfig {
            environment_id: text("environmentId").unwrap_or_default(),
            api_base_url: text("apiBaseUrl"),
            app_origin: text("appOrigin"),
            request_timeout_ms: number("requestTimeoutMs"),
            clock_leeway_seconds: number("clockLeewaySeconds"),
            auto_refresh: flag("autoRefresh"),
            refresh_margin_seconds: number("refreshMarginSeconds"),
            fresh_install: false,
            bind_session_key: flag("bindSessionKey"),
        };
        let dependencies = ClientDependencies {
            storage: Some(Arc::new(FileStorage::new(self.storage_dir.clone()))),
            ..Default::default()
        };
        let client = DynamicClient::new(config, dependencies)?;
        let handle = self.next_handle.fetch_add(1, Ordering::SeqCst);
        self.clients.lock().expect("clients lock").insert(
            handle,
            Entry {
                client,
                listener: None,
            },
        );
        Ok(json!(handle))
    }

    /// JavaScript has subscribed: from now on this client's states become events, starting with
    /// the current one. (Never before: the generated emitter crashes on an early emit.)
    fn start_events(&self, handle: i64) -> Answer {
        let client = self.client(Some(handle))?;
        let forwarder = Arc::new(StateForwarder {
            handle,
            client: Arc::downgrade(&client),
        });
        let registration = client.auth().add_listener(forwarder);
        let previous = self
            .clients
            .lock()
            .expect("clients lock")
            .get_mut(&handle)
            .and_then(|entry| entry.listener.replace(registration));
        if let Some(previous) = previous {
            previous.remove();
        }
        Ok(Value::Null)
    }
}

/// Turns a client's states into `onAuthStateChanged` events.
struct StateForwarder {
    handle: i64,
    client: Weak<DynamicClient>,
}

impl AuthListener for StateForwarder {
    fn on_state_changed(&self, state: AuthState) {
        // The bearer travels with the state so the TypeScript `auth.token` getter has it
        // synchronously; it is never logged.
        let token = self
            .client
            .upgrade()
            .and_then(|client| client.auth().tokens())
            .map(|tokens| tokens.bearer_token());
        write_line(&json!({
            "event": "onAuthStateChanged",
            "payload": {"handle": self.handle, "stateJson": bridge_state_json(state), "token": token},
        }));
    }
}

/// Turns the core's (already redacted) log lines into `onLog` events.
struct EventLogger;

impl Logger for EventLogger {
    fn log(&self, level: LogLevel, target: String, message: String) {
        let level = match level {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        };
        write_line(&json!({
            "event": "onLog",
            "payload": {"level": level, "target": target, "message": message},
        }));
    }
}

// --- Generated TypeScript and fixtures -------------------------------------------------------

/// `react-native/src/generated/rustErrorCodes.ts`: the code list, from `dynamic_byoa::ERROR_CODES`.
fn generated_ts() -> String {
    let mut out = String::from(
        "// Generated from dynamic_byoa::ERROR_CODES by `byoa-rn-test-host --generated-ts`; do not edit.\n\
         // scripts/test-react-native.sh fails when this file and the Rust list differ\n\
         // (`bash scripts/test-react-native.sh --update` rewrites it).\n\n\
         export const RUST_ERROR_CODES = [\n",
    );
    for code in ERROR_CODES {
        out.push_str(&format!("  '{code}',\n"));
    }
    out.push_str(
        "] as const;\n\n\
         /** Every `code` the Rust core can reject with, exactly. */\n\
         export type RustErrorCode = (typeof RUST_ERROR_CODES)[number];\n",
    );
    out
}

/// One of every error variant. The match below is exhaustive, so a new variant fails to
/// compile here until it has a sample (and so a payload in the fixtures).
fn one_of_each_error() -> Vec<ByoaError> {
    use ByoaError as E;
    let samples = vec![
        E::EmptyJwt,
        E::MalformedJwt {
            detail: "expected three segments, found 2".into(),
        },
        E::JwtNotJson {
            segment: "payload".into(),
        },
        E::JwtTooLarge {
            size: 20_000,
            limit: 16_384,
        },
        E::UnsupportedAlgorithm {
            alg: "HS256".into(),
        },
        E::MissingClaim {
            claim: "sub".into(),
        },
        E::InvalidClaim {
            claim: "exp".into(),
            expected: "a number".into(),
        },
        E::JwtExpired {
            expired_at_ms: 1_700_000_000_000,
            now_ms: 1_700_000_600_000,
            leeway_seconds: 60,
        },
        E::JwtNotYetValid {
            claim: "nbf".into(),
            valid_from_ms: 1_700_000_600_000,
            now_ms: 1_700_000_000_000,
            leeway_seconds: 60,
        },
        E::ExternalUserIdMismatch {
            jwt_sub: "user-1".into(),
            external_user_id: "user-2".into(),
        },
        E::InvalidSessionPublicKey,
        E::ExternalAuthRejected {
            reason: RejectionReason::Issuer,
            server_detail: "Issuer (iss) does not match".into(),
        },
        E::RateLimited {
            retry_after_seconds: Some(30),
        },
        E::SandboxLimitReached {
            server_detail: "sandbox maximum threshold reached".into(),
        },
        E::Unauthorized {
            server_detail: "invalid or expired token".into(),
        },
        E::EnvironmentNotFound {
            environment_id: "2762a57b-faa4-41ce-9f16-abff9300e2c9".into(),
        },
        E::RequestRejected {
            status: 400,
            code: Some("bad_request".into()),
            server_detail: "bad request".into(),
        },
        E::ServerError {
            status: 500,
            server_detail: "internal server error".into(),
        },
        E::DeviceSignatureRejected {
            reason: DeviceSignatureReason::ReusedNonce,
            server_detail: "nonce already used".into(),
        },
        E::DeviceNonceUnavailable {
            detail: "no nonce could be fetched".into(),
        },
        E::SessionKeyMismatch,
        E::KeyUnavailable {
            error: KeySignerError::Unavailable {
                detail: "device locked".into(),
            },
        },
        E::SignInSuperseded,
        E::SignInCancelled,
        E::NotSignedIn,
        E::SessionChanged,
        E::StorageUnavailable {
            error: StorageError::Failed {
                detail: "keystore entry corrupted".into(),
            },
        },
        E::Network {
            kind: NetworkErrorKind::Timeout,
            detail: "timed out".into(),
        },
        E::InvalidResponse {
            status: 200,
            detail: "no minifiedJwt in the response".into(),
        },
        E::InvalidConfiguration {
            field: "environment_id".into(),
            detail: "not a lowercase UUID".into(),
        },
        E::Internal {
            detail: "unexpected state".into(),
        },
    ];
    for sample in &samples {
        sampled(sample);
    }
    samples
}

/// Exhaustive on purpose: see `one_of_each_error`.
fn sampled(error: &ByoaError) {
    use ByoaError as E;
    match error {
        E::EmptyJwt
        | E::MalformedJwt { .. }
        | E::JwtNotJson { .. }
        | E::JwtTooLarge { .. }
        | E::UnsupportedAlgorithm { .. }
        | E::MissingClaim { .. }
        | E::InvalidClaim { .. }
        | E::JwtExpired { .. }
        | E::JwtNotYetValid { .. }
        | E::ExternalUserIdMismatch { .. }
        | E::InvalidSessionPublicKey
        | E::ExternalAuthRejected { .. }
        | E::RateLimited { .. }
        | E::SandboxLimitReached { .. }
        | E::Unauthorized { .. }
        | E::EnvironmentNotFound { .. }
        | E::RequestRejected { .. }
        | E::ServerError { .. }
        | E::DeviceSignatureRejected { .. }
        | E::DeviceNonceUnavailable { .. }
        | E::SessionKeyMismatch
        | E::KeyUnavailable { .. }
        | E::SignInSuperseded
        | E::SignInCancelled
        | E::NotSignedIn
        | E::SessionChanged
        | E::StorageUnavailable { .. }
        | E::Network { .. }
        | E::InvalidResponse { .. }
        | E::InvalidConfiguration { .. }
        | E::Internal { .. } => {}
    }
}

fn sample_session() -> SignedInSession {
    let credential =
        |id: &str, format: CredentialFormat, public: Option<&str>| VerifiedCredential {
            id: id.into(),
            format,
            public_identifier: public.map(str::to_owned),
            email: None,
            address: None,
            chain: None,
            sign_in_enabled: true,
        };
    SignedInSession {
        user: UserProfile {
            user_id: "8a6b1c2d-0000-4000-8000-000000000001".into(),
            environment_id: "2762a57b-faa4-41ce-9f16-abff9300e2c9".into(),
            session_id: Some("5f0c7a10-0000-4000-8000-000000000002".into()),
            external_user_id: Some("user-1".into()),
            email: Some("ada@example.com".into()),
            username: None,
            first_name: Some("Ada".into()),
            last_name: None,
            phone_number: None,
            new_user: true,
            scopes: vec!["user:basic".into()],
            last_verified_credential_id: Some("c-1".into()),
            verified_credentials: vec![
                credential("c-1", CredentialFormat::ExternalUser, Some("user-1")),
                credential("c-2", CredentialFormat::Email, Some("ada@example.com")),
                credential(
                    "c-3",
                    CredentialFormat::Other {
                        value: "somethingNew".into(),
                    },
                    None,
                ),
            ],
        },
        expires_at_ms: 1_700_003_600_000,
    }
}

/// Every payload shape the bridge produces, for the jest unit tests (the mocked spec answers
/// with these, so the TypeScript mapping is tested against Rust's own output).
fn bridge_samples() -> Value {
    let reasons = [
        SignOutReason::UserIntent,
        SignOutReason::Expired,
        SignOutReason::RefreshUnauthorized,
        SignOutReason::Revoked,
        SignOutReason::Replaced,
        SignOutReason::StorageCorrupt,
        SignOutReason::FreshInstall,
    ];
    let mut states = vec![AuthState::Restoring, AuthState::SignedOut { reason: None }];
    states.extend(reasons.iter().map(|&reason| AuthState::SignedOut {
        reason: Some(reason),
    }));
    states.push(AuthState::SignedIn {
        session: sample_session(),
    });
    states.push(AuthState::StorageUnavailable {
        error: StorageError::Unavailable {
            detail: "protected data unavailable".into(),
        },
    });
    let rejections: Vec<Value> = one_of_each_error()
        .into_iter()
        .map(|error| {
            let r = Rejection::from(error);
            json!({"code": r.code, "message": r.message, "userInfo": r.user_info})
        })
        .collect();
    let states: Vec<Value> = states
        .into_iter()
        .map(|state| Value::String(bridge_state_json(state)))
        .collect();
    json!({
        "errorCodes": ERROR_CODES,
        "rejections": rejections,
        "states": states,
        "session": bridge_session_json(sample_session()),
        "elevatedAccess": bridge_elevated_access_json(ElevatedAccess {
            scopes: vec!["wallet:export".into()],
            expires_at_ms: 1_700_000_300_000,
            single_use: true,
        }),
    })
}
