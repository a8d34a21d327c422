//! The one error type of the emulator's public API (start-up, configuration, key handling).
//! Request-level failures are HTTP responses, not errors.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    #[error("cannot read configuration file {path}: {source}")]
    ConfigFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot set up the HTTP client: {0}")]
    HttpClient(String),
    #[error("key error: {0}")]
    Key(String),
}
