//! Time, behind a trait so tests (and later the session layer) can control it.

use std::time::SystemTime;

use crate::session::unix_seconds;

pub(crate) trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;

    fn now_unix(&self) -> i64 {
        unix_seconds(self.now())
    }
}

/// The device's wall clock.
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
