//! Logs the app can see: the core's log lines, filtered by a level the app sets, go to one
//! foreign `Logger` per process. By default nothing is logged.
//!
//! Neither the `log` facade nor `tracing`: both dispatch through a process-global logger that a
//! Rust host may already have installed, and the core's lines would then reach it without
//! passing the redaction point. The core needs leveled lines, not spans, and a level check that
//! costs one atomic load when logging is off; [`log_at!`] and [`emit`] are that, in a few lines.
//!
//! The one redaction point for logs is [`emit`]: every message is passed through
//! `redact::scrub`, which replaces anything shaped like a JWT or a piece of one, before it reaches
//! the app. The core never formats a token into a log line on purpose; this is the safety net for
//! text it does not control (server messages, transport errors).

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};

use crate::support::redact::scrub;

/// Where a line comes from, for the app's filtering.
pub(crate) mod target {
    pub const HTTP: &str = "dynamic_byoa::http";
    pub const STATE: &str = "dynamic_byoa::state";
    pub const SESSION: &str = "dynamic_byoa::session";
    pub const STORAGE: &str = "dynamic_byoa::storage";
    pub const EVENTS: &str = "dynamic_byoa::events";
    pub const BINDING: &str = "dynamic_byoa::binding";
}

/// Logs one line at `level` under `target` when the app asked for that level; the message is
/// only formatted then.
macro_rules! log_at {
    ($level:expr, $target:expr, $($arg:tt)+) => {
        if $crate::support::logging::enabled($level) {
            $crate::support::logging::emit($level, $target, &format!($($arg)+), None);
        }
    };
}
pub(crate) use log_at;

/// How much to log, most severe first. A level includes every level above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, uniffi::Enum)]
pub enum LogLevel {
    /// Failures the app should know about (a session could not be saved).
    Error,
    /// Problems the core works around (a refresh failed and will be retried, the store is
    /// unreadable, the JWT provider failed).
    Warn,
    /// State changes and retries.
    Info,
    /// Every HTTP request: method, path, status, duration and `x-dyn-request-id`.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// 1 (Error) to 5 (Trace); 0 is "off".
    fn rank(self) -> u8 {
        match self {
            Self::Error => 1,
            Self::Warn => 2,
            Self::Info => 3,
            Self::Debug => 4,
            Self::Trace => 5,
        }
    }
}

/// Receives the core's log lines. Implemented by the app (Logcat, os_log, console, a file).
/// Called on whichever thread logged, possibly concurrently: implementations must be quick and
/// must not block on a call into the client. Messages never contain a token.
#[uniffi::export(with_foreign)]
pub trait Logger: Send + Sync {
    /// One line: its level, its target (`dynamic_byoa::http`, `::state`, `::session`,
    /// `::storage`, `::events`, `::binding`), and the message.
    fn log(&self, level: LogLevel, target: String, message: String);
}

/// Sends the core's logs at `level` and above to `logger`, for every client in the process;
/// `None` turns logging off (the default). Calling it again replaces the logger and level.
#[uniffi::export]
pub fn set_logger(logger: Option<Arc<dyn Logger>>, level: LogLevel) {
    let rank = if logger.is_some() { level.rank() } else { 0 };
    *LOGGER.write().unwrap_or_else(|p| p.into_inner()) = logger;
    LEVEL.store(rank, Ordering::SeqCst);
}

/// The most verbose level logged (`LogLevel::rank`), 0 when logging is off.
static LEVEL: AtomicU8 = AtomicU8::new(0);
static LOGGER: RwLock<Option<Arc<dyn Logger>>> = RwLock::new(None);

thread_local! {
    /// Set while this thread is inside the app's logger: a line logged meanwhile (the logger
    /// called into the client) is dropped instead of recursing.
    static IN_LOGGER: Cell<bool> = const { Cell::new(false) };
}

/// True when a line at `level` would reach the app.
pub(crate) fn enabled(level: LogLevel) -> bool {
    level.rank() <= LEVEL.load(Ordering::Relaxed)
}

/// Hands one line to the app's logger, scrubbed. `request_id` (the transport's
/// `x-dyn-request-id`) is appended after scrubbing, because `scrub` would take its 50-character
/// run for a signature; it is kept only if it has exactly the shape the transport makes.
pub(crate) fn emit(level: LogLevel, target: &'static str, message: &str, request_id: Option<&str>) {
    if !enabled(level) || IN_LOGGER.with(Cell::get) {
        return;
    }
    let Some(logger) = LOGGER.read().unwrap_or_else(|p| p.into_inner()).clone() else {
        return;
    };
    let mut line = scrub(message);
    if let Some(id) = request_id.filter(|id| is_request_id(id)) {
        line.push_str(&format!(" (x-dyn-request-id {id})"));
    }
    IN_LOGGER.with(|flag| flag.set(true));
    // A logger that panics must not take the operation that logged down with it.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        logger.log(level, target.to_owned(), line)
    }));
    IN_LOGGER.with(|flag| flag.set(false));
}

fn is_request_id(id: &str) -> bool {
    id.len() == dynamic_byoa_contract::headers::REQUEST_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Capture(Mutex<Vec<(LogLevel, String, String)>>);

    impl Logger for Capture {
        fn log(&self, level: LogLevel, target: String, message: String) {
            self.0.lock().unwrap().push((level, target, message));
        }
    }

    /// The logger is process-wide: this is the only unit test that installs one, and it looks
    /// only for its own lines (target `dynamic_byoa::test`).
    #[test]
    fn every_line_is_scrubbed_filtered_by_level_and_carries_only_a_real_request_id() {
        let capture = Arc::new(Capture::default());
        set_logger(Some(capture.clone()), LogLevel::Info);
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2ln";
        let test_target = "dynamic_byoa::test";
        log_at!(LogLevel::Warn, test_target, "server said {jwt}");
        emit(
            LogLevel::Info,
            test_target,
            "request",
            Some(&"A".repeat(50)),
        );
        emit(LogLevel::Info, test_target, "request", Some(jwt));
        log_at!(LogLevel::Debug, test_target, "too verbose");
        set_logger(None, LogLevel::Trace);
        log_at!(LogLevel::Error, test_target, "after removal");

        let lines: Vec<_> = capture
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, target, _)| target == test_target)
            .map(|(level, _, message)| (*level, message.clone()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (LogLevel::Warn, "server said <redacted>".to_owned()),
                (
                    LogLevel::Info,
                    format!("request (x-dyn-request-id {})", "A".repeat(50))
                ),
                (LogLevel::Info, "request".to_owned()),
            ]
        );
    }

    #[test]
    fn levels_order_from_most_to_least_severe() {
        assert!(LogLevel::Error < LogLevel::Warn);
        assert!(LogLevel::Debug < LogLevel::Trace);
        assert!(LogLevel::Error.rank() < LogLevel::Trace.rank());
    }
}
