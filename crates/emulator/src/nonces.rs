//! The nonces an environment issued (contract §4.10): random, single-use, with an expiry on the
//! emulator's clock. A nonce is "spent" by the first request that presents it, accepted or not,
//! so a captured request cannot be replayed.

use std::collections::{HashMap, VecDeque};

use dynamic_byoa_contract::DeviceSignatureRejection;

use crate::ids::random_hex;

/// Nonces remembered (issued and spent) per environment; past it the oldest are forgotten, and
/// a forgotten nonce reads as unknown (refused), never as fresh.
const MAX_REMEMBERED: usize = 10_000;

#[derive(Default)]
pub(crate) struct NonceBook {
    /// Issued and not yet spent: nonce → expiry (unix seconds, emulator clock).
    issued: HashMap<String, i64>,
    /// Spent nonces, oldest first, to tell "reused" from "unknown".
    spent: VecDeque<String>,
    spent_index: std::collections::HashSet<String>,
    /// Issue order, to forget the oldest when full.
    order: VecDeque<String>,
}

impl NonceBook {
    /// `count` fresh nonces (32 hex characters each) valid until `expires_at`.
    pub(crate) fn issue(&mut self, count: usize, expires_at: i64) -> Vec<String> {
        let nonces: Vec<String> = (0..count).map(|_| random_hex(16)).collect();
        for nonce in &nonces {
            self.issued.insert(nonce.clone(), expires_at);
            self.order.push_back(nonce.clone());
        }
        while self.order.len() > MAX_REMEMBERED {
            if let Some(oldest) = self.order.pop_front() {
                self.issued.remove(&oldest);
            }
        }
        nonces
    }

    /// Spends `nonce` at `now`: `Ok` if it was issued, unspent and unexpired. Spent either way.
    pub(crate) fn redeem(&mut self, nonce: &str, now: i64) -> Result<(), DeviceSignatureRejection> {
        if self.spent_index.contains(nonce) {
            return Err(DeviceSignatureRejection::ReusedNonce);
        }
        let expires_at = self
            .issued
            .remove(nonce)
            .ok_or(DeviceSignatureRejection::UnknownNonce)?;
        self.mark_spent(nonce.to_owned());
        if now >= expires_at {
            return Err(DeviceSignatureRejection::ExpiredNonce);
        }
        Ok(())
    }

    /// Spends every issued nonce, as if requests had used them (a test lever: the client's
    /// pooled nonces then read as reused).
    pub(crate) fn spend_all(&mut self) {
        let issued: Vec<String> = self.issued.drain().map(|(nonce, _)| nonce).collect();
        for nonce in issued {
            self.mark_spent(nonce);
        }
    }

    fn mark_spent(&mut self, nonce: String) {
        self.spent_index.insert(nonce.clone());
        self.spent.push_back(nonce);
        while self.spent.len() > MAX_REMEMBERED {
            if let Some(oldest) = self.spent.pop_front() {
                self.spent_index.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeviceSignatureRejection as R;

    #[test]
    fn a_nonce_is_good_once_before_its_expiry() {
        let mut book = NonceBook::default();
        let nonces = book.issue(3, 100);
        assert_eq!(nonces.len(), 3);
        assert_eq!(
            nonces
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len(),
            3
        );
        assert!(nonces.iter().all(|n| n.len() == 32));
        assert_eq!(book.redeem(&nonces[0], 50), Ok(()));
        assert_eq!(book.redeem(&nonces[0], 50), Err(R::ReusedNonce));
        assert_eq!(book.redeem(&nonces[1], 100), Err(R::ExpiredNonce));
        assert_eq!(book.redeem(&nonces[1], 10), Err(R::ReusedNonce));
        assert_eq!(book.redeem("f00d", 10), Err(R::UnknownNonce));
        book.spend_all();
        assert_eq!(book.redeem(&nonces[2], 10), Err(R::ReusedNonce));
    }
}
