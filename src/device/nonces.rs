//! The nonce pool (contract §4.10): `GET {base}/sdk/{env}/nonces?count=5`, each nonce kept for
//! the JavaScript client's pool lifetime (24 h, on the server's clock) and used once.
//!
//! A sign-in or refresh takes one nonce. An empty pool is filled on demand (one request, shared
//! by concurrent takers); a pool running low is refilled in the background, so the next request
//! does not wait. A server refusal that names a nonce problem empties the pool.

use std::collections::VecDeque;
use std::sync::Mutex;

use dynamic_byoa_contract::device::{NONCE_POOL_LIFETIME_SECONDS, NONCE_POOL_SIZE};
use dynamic_byoa_contract::{NoncesResponse, paths};

use crate::error::Error;
use crate::network::Transport;
use crate::support::single_flight::SingleFlight;

/// Below this many usable nonces, a take starts a background refill.
const LOW_WATER: usize = 2;

struct Pooled {
    nonce: String,
    /// Unix seconds, server time, after which the nonce is not used.
    expires_at: i64,
}

#[derive(Default)]
pub(crate) struct NoncePool {
    pooled: Mutex<VecDeque<Pooled>>,
    fill: SingleFlight<(), Result<(), Error>>,
}

impl NoncePool {
    /// One unused, unexpired nonce: from the pool, else fetched now. `server_now` is the
    /// server's time (unix seconds) as the client knows it.
    pub async fn take(&self, transport: &Transport, server_now: i64) -> Result<String, Error> {
        // Twice at most: a burst of concurrent takers can empty a fill before this one pops.
        for _ in 0..2 {
            if let Some(nonce) = self.pop(server_now) {
                return Ok(nonce);
            }
            self.fill(transport, server_now).await?;
        }
        self.pop(server_now).ok_or(Error::Incomplete {
            status: 200,
            detail: "the nonce response carried no nonce",
        })
    }

    /// True when the pool should be refilled (in the background).
    pub fn is_low(&self, server_now: i64) -> bool {
        let mut pooled = self.lock();
        pooled.retain(|p| p.expires_at > server_now);
        pooled.len() < LOW_WATER
    }

    /// Fetches `NONCE_POOL_SIZE` nonces into the pool; concurrent calls share one request.
    pub async fn fill(&self, transport: &Transport, server_now: i64) -> Result<(), Error> {
        self.fill
            .run((), || async {
                let route = format!("{}?count={NONCE_POOL_SIZE}", paths::NONCES);
                let reply = transport.get_json::<NoncesResponse>(&route).await?;
                // From the server's `Date` when it sent one (the device clock may be off, and the
                // server's time may not be known yet), else from before the request: never later
                // than the server's own issue time.
                let issued = reply
                    .server_date
                    .map_or(server_now, crate::support::time::unix_seconds);
                let expires_at = issued + NONCE_POOL_LIFETIME_SECONDS;
                let mut pooled = self.lock();
                pooled.extend(
                    reply
                        .body
                        .nonces
                        .into_iter()
                        .filter(|n| !n.is_empty())
                        .map(|nonce| Pooled { nonce, expires_at }),
                );
                Ok(())
            })
            .await
    }

    /// Forgets every pooled nonce (the server refused one: the rest may be stale too).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn pop(&self, server_now: i64) -> Option<String> {
        let mut pooled = self.lock();
        while let Some(next) = pooled.pop_front() {
            if next.expires_at > server_now {
                return Some(next.nonce);
            }
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Pooled>> {
        self.pooled.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool_with(nonces: &[(&str, i64)]) -> NoncePool {
        let pool = NoncePool::default();
        pool.lock().extend(nonces.iter().map(|(n, at)| Pooled {
            nonce: (*n).to_owned(),
            expires_at: *at,
        }));
        pool
    }

    #[test]
    fn nonces_are_taken_once_in_order_and_expired_ones_skipped() {
        let pool = pool_with(&[("old", 100), ("a", 500), ("b", 500)]);
        assert_eq!(pool.pop(200).as_deref(), Some("a"));
        assert_eq!(pool.pop(200).as_deref(), Some("b"));
        assert_eq!(pool.pop(200), None);
    }

    #[test]
    fn the_pool_is_low_below_two_usable_nonces() {
        let pool = pool_with(&[("a", 500), ("b", 500), ("c", 100)]);
        assert!(!pool.is_low(200));
        pool.pop(200);
        assert!(pool.is_low(200));
        pool.clear();
        assert!(pool.is_low(0));
    }
}
