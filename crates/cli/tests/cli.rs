//! The `byoa` binary, run as a user would run it.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dynamic_byoa_emulator::TestIssuer;
use serde_json::{Value, json};

fn byoa(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_byoa"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("byoa runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Runs `byoa check --json` on `jwt` read from stdin, in a blocking thread so that the issuer's
/// JWKS endpoint (on this test's runtime) keeps serving.
async fn check_json(issuer: &TestIssuer, jwt: String, extra: &[&str]) -> (bool, Value) {
    let mut args: Vec<String> = [
        "check",
        "--jwt",
        "-",
        "--issuer",
        &issuer.issuer(),
        "--jwks-url",
        &issuer.jwks_url(),
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let output = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        byoa(&refs, Some(&jwt))
    })
    .await
    .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).expect("check --json prints JSON");
    (output.status.success(), report)
}

#[tokio::test(flavor = "multi_thread")]
async fn check_accepts_a_good_token_with_exit_status_zero() {
    let issuer = TestIssuer::start().await.unwrap();
    let jwt = issuer.mint(&issuer.claims_for("alice", Duration::from_secs(600)));
    let (accepted, report) = check_json(&issuer, jwt, &["--external-user-id", "alice"]).await;
    assert!(accepted, "{report}");
    assert_eq!(report, json!({"accepted": true, "problems": []}));
}

#[tokio::test(flavor = "multi_thread")]
async fn check_lists_every_reason_a_bad_token_is_refused() {
    let issuer = TestIssuer::start().await.unwrap();
    let jwt =
        issuer.mint(&json!({"iss": "https://wrong.example", "sub": "bob", "exp": now() - 3600}));
    let (accepted, report) = check_json(&issuer, jwt, &["--external-user-id", "alice"]).await;
    assert!(!accepted);
    let problems = report["problems"].as_array().unwrap();
    let has = |stage: &str, code: &str, reason: Option<&str>| {
        problems.iter().any(|p| {
            p["stage"] == stage && p["code"] == code && reason.is_none_or(|r| p["reason"] == r)
        })
    };
    assert!(has("preflight", "jwt_expired", None), "{report}");
    assert!(
        has("preflight", "external_user_id_mismatch", None),
        "{report}"
    );
    assert!(
        has("server", "external_auth_rejected", Some("issuer")),
        "{report}"
    );
    assert!(
        has("server", "external_auth_rejected", Some("expired")),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_a_forged_signature() {
    let issuer = TestIssuer::start().await.unwrap();
    let forger = TestIssuer::start().await.unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(issuer.kid());
    let mut claims = issuer.claims_for("carol", Duration::from_secs(600));
    claims["iss"] = json!(issuer.issuer());
    let jwt = forger.mint_with_header(header, &claims);
    let (accepted, report) = check_json(&issuer, jwt, &[]).await;
    assert!(!accepted);
    assert_eq!(report["problems"][0]["reason"], "signature", "{report}");
}

#[test]
fn demo_with_vv_logs_every_request_to_stderr_without_a_token() {
    let output = byoa(&["demo", "-vv"], None);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("DEBUG dynamic_byoa::http: POST /api/v0/sdk/"),
        "{stderr}"
    );
    assert!(
        stderr.contains("externalAuth/verify -> 200 in "),
        "{stderr}"
    );
    assert!(stderr.contains("(x-dyn-request-id "), "{stderr}");
    assert!(
        stderr.contains("INFO  dynamic_byoa::state: state: signed in"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("eyJ"),
        "no token is ever logged:\n{stderr}"
    );
}

#[test]
fn demo_signs_in_through_the_client_against_the_embedded_emulator() {
    let output = byoa(&["demo"], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("200 OK"), "{stdout}");
    assert!(stdout.contains("external id  demo-user-42"), "{stdout}");
    assert!(
        stdout.contains("bound to     session key 0"),
        "the demo session is bound to a session key:\n{stdout}"
    );
    assert!(
        stdout.contains("device key   0"),
        "the demo sign-in carried a device signature:\n{stdout}"
    );
    assert!(stdout.contains("external_user_id_mismatch"), "{stdout}");
    assert!(stdout.contains("external_auth_rejected"), "{stdout}");
    assert!(stdout.contains("still signed in as "), "{stdout}");
    assert!(
        stdout.contains("restore() -> SignedIn(demo-user-42)"),
        "{stdout}"
    );
    assert!(stdout.contains("event: SignedOut(user_intent)"), "{stdout}");
    assert!(
        stdout.contains("granted scopes [wallet:export], expires in 5 min, single use: true"),
        "{stdout}"
    );
    assert!(stdout.contains("again -> none (single use)"), "{stdout}");
    assert!(
        stdout.contains("replayed assertion   -> external_auth_rejected"),
        "{stdout}"
    );
    assert!(stdout.contains("no refresh needed"), "{stdout}");
    assert!(
        stdout.contains("x-dyn-logout-reason: user-intent"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("eyJ"),
        "no token is ever printed:\n{stdout}"
    );
}
