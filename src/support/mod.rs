//! What every layer may use and that knows nothing of Dynamic: redaction of token-like text,
//! single-flight, clocks, instants, the library's runtime, and logging.
//!
//! May import: nothing else of the crate.

pub mod clock;
pub(crate) mod logging;
pub mod redact;
pub(crate) mod runtime;
pub(crate) mod single_flight;
pub(crate) mod time;
