//! `-v` / `-vv`: the client core's logs on stderr, through the same `Logger` port an app
//! registers (Logcat, os_log, console).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use dynamic_byoa::{LogLevel, Logger, set_logger};

/// Warnings always; `-v` adds state changes and retries, `-vv` every request, `-vvv` all.
pub fn install(verbosity: u8) {
    let level = match verbosity {
        0 => LogLevel::Warn,
        1 => LogLevel::Info,
        2 => LogLevel::Debug,
        _ => LogLevel::Trace,
    };
    START.get_or_init(Instant::now);
    set_logger(Some(Arc::new(Stderr)), level);
}

/// Lines are stamped with the time since the command started.
static START: OnceLock<Instant> = OnceLock::new();

struct Stderr;

impl Logger for Stderr {
    fn log(&self, level: LogLevel, target: String, message: String) {
        let elapsed = START.get_or_init(Instant::now).elapsed().as_secs_f64();
        let level = format!("{level:?}").to_uppercase();
        eprintln!("{elapsed:>8.3}s {level:<5} {target}: {message}");
    }
}
