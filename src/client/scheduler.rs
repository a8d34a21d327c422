//! The per-client background task: restores the session at start-up, then sleeps until the
//! next refresh or expiry (on the client's clock) and acts, re-planning after every change.
//!
//! It holds only a weak reference to the client while it sleeps, so dropping the client ends
//! it; and it never acts on a plan made before a change (sign-out included): every change wakes
//! it to plan again.

use std::sync::{Arc, Weak};

use crate::client::Core;
use crate::support::runtime;

pub(crate) fn start(core: &Arc<Core>) {
    let weak: Weak<Core> = Arc::downgrade(core);
    let mut changes = core.lifecycle().subscribe();
    let clock = core.clock().clone();
    runtime::spawn(async move {
        match weak.upgrade() {
            Some(core) => {
                core.restore().await;
            }
            None => return,
        }
        loop {
            // Seen before planning: a change made while planning still wakes the wait below.
            changes.borrow_and_update();
            let wake = match weak.upgrade() {
                Some(core) => core.next_wake(),
                None => return,
            };
            let Some(at) = wake else {
                if changes.changed().await.is_err() {
                    return;
                }
                continue;
            };
            tokio::select! {
                () = clock.sleep_until(at) => {
                    let Some(core) = weak.upgrade() else { return };
                    core.on_wake().await;
                }
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    });
}
