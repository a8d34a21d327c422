//! Time, behind a trait, so that expiry, refresh timers and backoff can be tested without
//! waiting: every decision and every wait in the session layer goes through a [`Clock`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::support::time::unix_seconds;

/// A boxed future, as returned by [`Clock::sleep_until`] (trait objects cannot have `async fn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The device's notion of wall-clock time, and a way to wait for a moment of it.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;

    /// Resolves at or after `deadline` on this clock. It may also resolve earlier (callers re-check
    /// the time and wait again): the system clock wakes at least once a minute, because timers
    /// run on a monotonic clock that stops while a phone sleeps, and wall time does not.
    fn sleep_until(&self, deadline: SystemTime) -> BoxFuture<'_, ()>;

    fn now_unix(&self) -> i64 {
        unix_seconds(self.now())
    }
}

/// The device's wall clock.
pub struct SystemClock;

/// Longest single wait of [`SystemClock::sleep_until`]; see [`Clock::sleep_until`].
const MAX_SYSTEM_SLEEP: Duration = Duration::from_secs(60);

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep_until(&self, deadline: SystemTime) -> BoxFuture<'_, ()> {
        let wait = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .min(MAX_SYSTEM_SLEEP);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that moves only when told to: for tests of expiry, refresh and skew, in this crate
/// and in apps (an app's own tests can drive the whole session lifecycle with it, in no time).
pub struct ManualClock {
    now: tokio::sync::watch::Sender<SystemTime>,
    /// Serialises `advance` so that concurrent callers cannot move time backwards.
    step: Mutex<()>,
}

impl ManualClock {
    pub fn new(start: SystemTime) -> Self {
        Self {
            now: tokio::sync::watch::Sender::new(start),
            step: Mutex::new(()),
        }
    }

    /// A manual clock that starts at the real current time.
    pub fn starting_now() -> Self {
        Self::new(SystemTime::now())
    }

    /// Moves time forward by `by`, waking every sleeper whose deadline has passed.
    pub fn advance(&self, by: Duration) {
        let _step = self.step.lock().unwrap_or_else(|p| p.into_inner());
        let next = *self.now.borrow() + by;
        self.now.send_replace(next);
    }

    /// How many `sleep_until` futures are waiting on this clock now: lets a test know that a
    /// background task is (or is no longer) waiting for a moment in time.
    pub fn sleepers(&self) -> usize {
        self.now.receiver_count()
    }

    /// Sets the time (forward or back), waking sleepers whose deadline has passed.
    pub fn set(&self, to: SystemTime) {
        let _step = self.step.lock().unwrap_or_else(|p| p.into_inner());
        self.now.send_replace(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline: SystemTime) -> BoxFuture<'_, ()> {
        let mut time = self.now.subscribe();
        Box::pin(async move {
            // `wait_for` checks the current value first, then every change.
            let _ = time.wait_for(|now| *now >= deadline).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleeper_wakes_only_when_time_reaches_its_deadline() {
        let clock = std::sync::Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(deadline).await })
        };
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(9));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(1));
        sleeper.await.unwrap();
        assert_eq!(clock.now_unix(), 10);
    }
}
