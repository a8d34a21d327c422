//! `byoa check`: every reason Dynamic, or the client's own preflight, would refuse a JWT.

use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dynamic_byoa::preflight::{self, DEFAULT_LEEWAY_SECONDS, Expectations};
use dynamic_byoa::{ByoaError, RejectionReason};
use dynamic_byoa_emulator::{ExternalJwtPolicy, JwksCache, check_external_jwt, http_client};
use serde_json::{Value, json};

use crate::CliResult;

#[derive(clap::Args)]
pub struct Args {
    /// The external JWT, or `-` to read it from standard input.
    #[arg(long)]
    jwt: String,
    /// The issuer configured in Dynamic's dashboard.
    #[arg(long)]
    issuer: String,
    /// The JWKS URL configured in Dynamic's dashboard.
    #[arg(long)]
    jwks_url: String,
    /// The audience configured in Dynamic's dashboard, if any.
    #[arg(long)]
    audience: Option<String>,
    /// The app's user id, which must equal `sub`.
    #[arg(long)]
    external_user_id: Option<String>,
    /// Server-side clock leeway in seconds.
    #[arg(long, default_value_t = 30)]
    leeway_seconds: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// One reason the token would be refused.
struct Problem {
    /// Who refuses it: the device preflight, or the server.
    stage: &'static str,
    code: String,
    reason: Option<String>,
    text: String,
}

pub async fn run(args: Args) -> CliResult {
    let jwt = read_jwt(&args.jwt)?;
    let mut problems = preflight_problems(&jwt, args.external_user_id.as_deref());
    problems.extend(server_problems(&jwt, &args).await?);
    if args.json {
        print_json(&problems);
    } else {
        print_text(&jwt, &args, &problems);
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn read_jwt(arg: &str) -> Result<String, std::io::Error> {
    if arg != "-" {
        return Ok(arg.trim().to_owned());
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    Ok(text.trim().to_owned())
}

fn preflight_problems(jwt: &str, external_user_id: Option<&str>) -> Vec<Problem> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let expect = Expectations {
        external_user_id,
        now,
        leeway_seconds: DEFAULT_LEEWAY_SECONDS,
    };
    let (_, found) = preflight::diagnose(jwt, expect);
    found
        .into_iter()
        .map(|problem| {
            let error = ByoaError::from(problem);
            Problem {
                stage: "preflight",
                code: error.code(),
                reason: None,
                text: error.to_string(),
            }
        })
        .collect()
}

async fn server_problems(
    jwt: &str,
    args: &Args,
) -> Result<Vec<Problem>, Box<dyn std::error::Error>> {
    let policy = ExternalJwtPolicy {
        issuer: args.issuer.clone(),
        jwks_url: args.jwks_url.clone(),
        audience: args.audience.clone(),
        leeway: Duration::from_secs(args.leeway_seconds),
    };
    let jwks = JwksCache::new(http_client()?);
    let rejections = check_external_jwt(jwt, &policy, &jwks).await;
    Ok(rejections
        .into_iter()
        .map(|rejection| Problem {
            stage: "server",
            code: "external_auth_rejected".into(),
            reason: Some(RejectionReason::from(Some(rejection.reason)).to_string()),
            text: rejection.to_string(),
        })
        .collect())
}

fn print_json(problems: &[Problem]) {
    let list: Vec<Value> = problems
        .iter()
        .map(|p| json!({"stage": p.stage, "code": p.code, "reason": p.reason, "detail": p.text}))
        .collect();
    println!(
        "{}",
        json!({"accepted": problems.is_empty(), "problems": list})
    );
}

fn print_text(jwt: &str, args: &Args, problems: &[Problem]) {
    println!(
        "Checking an external JWT ({} bytes) for issuer {}",
        jwt.len(),
        args.issuer
    );
    println!("  JWKS: {}", args.jwks_url);
    if let Some(audience) = &args.audience {
        println!("  audience: {audience}");
    }
    for stage in ["preflight", "server"] {
        let label = if stage == "preflight" {
            "Device preflight (dynamic-byoa, before any request)"
        } else {
            "Server verification (as Dynamic: signature via JWKS, iss, aud, exp/nbf, sub)"
        };
        println!("{label}:");
        let found: Vec<&Problem> = problems.iter().filter(|p| p.stage == stage).collect();
        if found.is_empty() {
            println!("  ok");
        }
        for problem in found {
            match &problem.reason {
                Some(reason) => println!("  ✗ {}/{}: {}", problem.code, reason, problem.text),
                None => println!("  ✗ {}: {}", problem.code, problem.text),
            }
        }
    }
    if problems.is_empty() {
        println!("Verdict: Dynamic would accept this token.");
    } else {
        println!("Verdict: rejected ({} problem(s)).", problems.len());
    }
}
