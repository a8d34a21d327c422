//! `byoa`: the project's command-line tools.
//!
//! * `byoa demo`: the main job. Starts a throw-away external issuer and the Dynamic emulator on
//!   loopback, then signs in through `DynamicClient` exactly as an app would, step by step.
//! * `byoa emulator`: runs the emulator for app development.
//! * `byoa check`: explains why Dynamic would (or would not) accept an external JWT.

mod check;
mod demo;
mod emulator;
mod logs;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "byoa",
    version,
    about = "Dynamic Bring-Your-Own-Auth native client tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log the client core to stderr: -v for state changes and retries, -vv for every request.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in through the real client against an embedded emulator, zero configuration.
    Demo,
    /// Run the Dynamic API emulator on loopback until Ctrl-C.
    Emulator(emulator::Args),
    /// Check an external JWT the way Dynamic (and the client's preflight) would.
    Check(check::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    logs::install(cli.verbose);
    let outcome = match cli.command {
        Command::Demo => demo::run().await,
        Command::Emulator(args) => emulator::run(args).await,
        Command::Check(args) => check::run(args).await,
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("byoa: {error}");
            ExitCode::from(2)
        }
    }
}

/// Errors the commands report before exiting with status 2.
type CliResult = Result<ExitCode, Box<dyn std::error::Error>>;
