//! `byoa emulator`: the Dynamic API emulator for app development.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use dynamic_byoa_emulator::{Emulator, EmulatorConfig, EnvironmentConfig};

use crate::CliResult;

#[derive(clap::Args)]
pub struct Args {
    /// JSON configuration file (environments[], basePath, port); flags add one more environment.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Environment id (lowercase UUID) to serve.
    #[arg(long, requires_all = ["issuer", "jwks_url"])]
    environment_id: Option<String>,
    /// Required `iss` of external JWTs.
    #[arg(long)]
    issuer: Option<String>,
    /// The JWKS URL of your auth provider.
    #[arg(long)]
    jwks_url: Option<String>,
    /// Required `aud` of external JWTs, if your environment sets one.
    #[arg(long, requires = "environment_id")]
    audience: Option<String>,
    /// Port to listen on (loopback only); 0 picks a free one.
    #[arg(long)]
    port: Option<u16>,
    /// Lifetime of minted Dynamic sessions, in seconds.
    #[arg(long, requires = "environment_id")]
    session_ttl: Option<u64>,
    /// Refuse sign-in and refresh without a valid device signature (x-dynamic-device-* headers
    /// over a fresh nonce); without it, signatures that are sent are still verified.
    #[arg(long, requires = "environment_id")]
    require_device_signature: bool,
}

pub async fn run(args: Args) -> CliResult {
    let config = build_config(args)?;
    if config.environments.is_empty() {
        return Err(
            "no environment: pass --environment-id, --issuer and --jwks-url, or --config FILE"
                .into(),
        );
    }
    let environments: Vec<String> = config
        .environments
        .iter()
        .map(|e| e.environment_id.clone())
        .collect();
    let emulator = Emulator::start(config).await?;
    println!("Dynamic emulator listening on {}", emulator.base_url());
    for id in environments {
        println!(
            "  environment {id}: point your app's apiBaseUrl at {}",
            emulator.base_url()
        );
    }
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn build_config(args: Args) -> Result<EmulatorConfig, Box<dyn std::error::Error>> {
    let mut config = match &args.config {
        Some(path) => EmulatorConfig::from_json_file(path)?,
        None => EmulatorConfig::default(),
    };
    if let (Some(id), Some(issuer), Some(jwks_url)) =
        (args.environment_id, args.issuer, args.jwks_url)
    {
        let mut environment = EnvironmentConfig::new(id, issuer, jwks_url);
        environment.audience = args.audience;
        environment.require_device_signature = args.require_device_signature;
        if let Some(seconds) = args.session_ttl {
            environment.session_ttl = Duration::from_secs(seconds);
        }
        config.environments.push(environment);
    }
    if let Some(port) = args.port {
        config.bind = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn config(flags: &[&str]) -> EmulatorConfig {
        let base = [
            "byoa",
            "--environment-id",
            "2762a57b-faa4-41ce-9f16-abff9300e2c9",
            "--issuer",
            "https://issuer",
            "--jwks-url",
            "https://issuer/jwks",
        ];
        let cli = Cli::parse_from(base.iter().chain(flags));
        build_config(cli.args).unwrap()
    }

    #[test]
    fn require_device_signature_is_off_unless_the_flag_is_given() {
        assert!(!config(&[]).environments[0].require_device_signature);
        assert!(config(&["--require-device-signature"]).environments[0].require_device_signature);
    }
}
