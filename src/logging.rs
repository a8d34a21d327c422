//! Logs the app can see: the core's `log` records, filtered by a level the app sets, go to one
//! foreign `Logger` per process. By default nothing is logged.
//!
//! Why `log` rather than `tracing`: the core needs leveled lines, not spans; `log` is a facade of
//! a few hundred lines that compiles to a level check when disabled, adds nothing to the mobile
//! library's size, and is what the core already used. A Rust host that installs its own `log`
//! logger (env_logger, android_logger, oslog) keeps it and receives the same records.
//!
//! The one redaction point for logs is [`Bridge::log`]: every message is passed through
//! `redact::scrub`, which replaces anything shaped like a JWT or a piece of one, before it
//! reaches the app. The core never formats a token into a log line on purpose; this is the
//! safety net for text it does not control (server messages, transport errors).

use std::cell::Cell;
use std::sync::{Arc, Once, RwLock};

use crate::redact::scrub;

/// Only the core's own records are forwarded, never those of its dependencies (HTTP, TLS),
/// whose lines the core cannot vouch for.
const TARGET_PREFIX: &str = "dynamic_byoa";

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

impl From<log::Level> for LogLevel {
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Error => Self::Error,
            log::Level::Warn => Self::Warn,
            log::Level::Info => Self::Info,
            log::Level::Debug => Self::Debug,
            log::Level::Trace => Self::Trace,
        }
    }
}

impl From<LogLevel> for log::LevelFilter {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => Self::Error,
            LogLevel::Warn => Self::Warn,
            LogLevel::Info => Self::Info,
            LogLevel::Debug => Self::Debug,
            LogLevel::Trace => Self::Trace,
        }
    }
}

/// Receives the core's log lines. Implemented by the app (Logcat, os_log, console, a file).
/// Called on whichever thread logged, possibly concurrently: implementations must be quick and
/// must not block on a call into the client. Messages never contain a token.
#[uniffi::export(with_foreign)]
pub trait Logger: Send + Sync {
    /// One line: its level, its target (`dynamic_byoa::http`, `::state`, `::session`,
    /// `::storage`), and the message.
    fn log(&self, level: LogLevel, target: String, message: String);
}

/// Sends the core's logs at `level` and above to `logger`, for every client in the process;
/// `None` turns logging off (the default). Calling it again replaces the logger and level.
#[uniffi::export]
pub fn set_logger(logger: Option<Arc<dyn Logger>>, level: LogLevel) {
    static INSTALL: Once = Once::new();
    // If the host already installed a `log` logger, `set_logger` fails and the core's records
    // go to that one instead: the host chose where logs go.
    INSTALL.call_once(|| {
        let _ = log::set_logger(&BRIDGE);
    });
    let enabled = logger.is_some();
    *BRIDGE.logger.write().unwrap_or_else(|p| p.into_inner()) = logger;
    log::set_max_level(if enabled {
        level.into()
    } else {
        log::LevelFilter::Off
    });
}

static BRIDGE: Bridge = Bridge {
    logger: RwLock::new(None),
};

/// The `log` implementation that forwards to the app's [`Logger`].
struct Bridge {
    logger: RwLock<Option<Arc<dyn Logger>>>,
}

thread_local! {
    /// Set while this thread is inside the app's logger: a record logged meanwhile (the logger
    /// called into the client) is dropped instead of recursing.
    static IN_LOGGER: Cell<bool> = const { Cell::new(false) };
}

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with(TARGET_PREFIX) && metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) || IN_LOGGER.with(Cell::get) {
            return;
        }
        let Some(logger) = self
            .logger
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        else {
            return;
        };
        let mut message = scrub(&record.args().to_string());
        if let Some(id) = request_id(record) {
            message.push_str(&format!(" (x-dyn-request-id {id})"));
        }
        let level = LogLevel::from(record.level());
        let target = record.target().to_owned();
        IN_LOGGER.with(|flag| flag.set(true));
        // A logger that panics must not take the operation that logged down with it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            logger.log(level, target, message)
        }));
        IN_LOGGER.with(|flag| flag.set(false));
    }

    fn flush(&self) {}
}

/// The `request_id` key of a record (the transport's `x-dyn-request-id`), if it has the shape
/// the transport makes: 50 ASCII letters and digits. It is appended after scrubbing, because
/// `scrub` would take a 50-character run for a signature; anything else under that key is
/// dropped.
fn request_id(record: &log::Record<'_>) -> Option<String> {
    let value = record
        .key_values()
        .get(log::kv::Key::from_str("request_id"))?;
    let id = value.to_string();
    (id.len() == dynamic_byoa_contract::headers::REQUEST_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_from_most_to_least_severe() {
        assert!(LogLevel::Error < LogLevel::Warn);
        assert!(LogLevel::Debug < LogLevel::Trace);
        assert_eq!(
            log::LevelFilter::from(LogLevel::Info),
            log::LevelFilter::Info
        );
        assert_eq!(LogLevel::from(log::Level::Warn), LogLevel::Warn);
    }

    #[test]
    fn only_a_request_id_of_the_transports_shape_is_kept_whole() {
        let id = "A".repeat(50);
        let kv: &[(&str, &str)] = &[("request_id", id.as_str())];
        let args = format_args!("GET /x -> 200");
        let record = log::Record::builder().args(args).key_values(&kv).build();
        assert_eq!(request_id(&record), Some(id));
        let piece = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let kv: &[(&str, &str)] = &[("request_id", piece)];
        let record = log::Record::builder().args(args).key_values(&kv).build();
        assert_eq!(request_id(&record), None);
    }

    #[test]
    fn only_the_cores_own_targets_are_forwarded() {
        log::set_max_level(log::LevelFilter::Trace);
        let ours = log::Metadata::builder()
            .target("dynamic_byoa::http")
            .level(log::Level::Debug)
            .build();
        let theirs = log::Metadata::builder()
            .target("reqwest::connect")
            .level(log::Level::Debug)
            .build();
        assert!(log::Log::enabled(&BRIDGE, &ours));
        assert!(!log::Log::enabled(&BRIDGE, &theirs));
    }
}
