//! One piece of work per key at a time: concurrent callers with the same key share one run and
//! its result. Used for sign-ins with the same JWT (double taps, re-renders), refreshes and key
//! fetches, so that N callers make one request.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

pub(crate) struct SingleFlight<K, T> {
    in_flight: Mutex<HashMap<K, Arc<OnceCell<T>>>>,
}

impl<K, T> Default for SingleFlight<K, T> {
    fn default() -> Self {
        Self {
            in_flight: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone, T: Clone> SingleFlight<K, T> {
    /// Runs `work` unless a run for `key` is in flight, in which case it waits for that run's
    /// result instead. A caller arriving after a run finished starts a new one.
    ///
    /// If the caller running `work` is cancelled, a waiting caller takes the work over (the
    /// library runs every exported call to completion anyway, see `support::runtime`).
    pub async fn run<F, Fut>(&self, key: K, work: F) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let cell = self
            .lock()
            .entry(key.clone())
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        let result = cell.get_or_init(work).await.clone();
        // The first caller back removes the finished run; later ones find another or nothing.
        let mut in_flight = self.lock();
        if in_flight
            .get(&key)
            .is_some_and(|current| Arc::ptr_eq(current, &cell))
        {
            in_flight.remove(&key);
        }
        result
    }

    /// True while a run for `key` is in flight.
    #[cfg(test)]
    pub fn is_running(&self, key: &K) -> bool {
        self.lock().contains_key(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<OnceCell<T>>>> {
        // Updates are single inserts and removes: a panic elsewhere cannot leave the map torn.
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_callers_with_one_key_share_one_run() {
        let flight = Arc::new(SingleFlight::<&str, usize>::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let (release, gate) = tokio::sync::watch::channel(false);
        let callers: Vec<_> = (0..20)
            .map(|_| {
                let (flight, runs, mut gate) = (flight.clone(), runs.clone(), gate.clone());
                tokio::spawn(async move {
                    flight
                        .run("k", || async move {
                            let _ = gate.wait_for(|open| *open).await;
                            runs.fetch_add(1, Ordering::SeqCst) + 1
                        })
                        .await
                })
            })
            .collect();
        while !flight.is_running(&"k") {
            tokio::task::yield_now().await;
        }
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        release.send_replace(true);
        for caller in callers {
            assert_eq!(
                caller.await.unwrap(),
                1,
                "every caller sees the one run's result"
            );
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(!flight.is_running(&"k"));

        let again = flight.run("k", || async { 42 }).await;
        assert_eq!(
            again, 42,
            "a caller after the run finished starts a new one"
        );
    }
}
