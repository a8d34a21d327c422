//! The scheduler's arithmetic, pure so that it is tested without a network or a clock: when a
//! session is refreshed, and how long the client waits after a failure. Instants are unix
//! seconds on the server's clock.

/// First pause after a failed automatic refresh; doubled per failure up to `MAX_REFRESH_PAUSE`.
pub(super) const FIRST_REFRESH_PAUSE: i64 = 10;
pub(super) const MAX_REFRESH_PAUSE: i64 = 300;
/// First pause after a failed storage write; doubled per failure up to `MAX_WRITE_PAUSE`.
const FIRST_WRITE_PAUSE: u64 = 5;
const MAX_WRITE_PAUSE: u64 = 60;

/// When a session should be refreshed: `margin` before it expires, but never earlier than half
/// way through its lifetime (a session shorter than twice the margin would otherwise be
/// refreshed at once, again and again), never before `not_before` (a backoff in progress), and
/// never after it expires.
pub(super) fn refresh_at(
    expires_at: i64,
    received_at: i64,
    margin: i64,
    not_before: Option<i64>,
) -> i64 {
    let lifetime = expires_at.saturating_sub(received_at).max(0);
    let margin = margin.min(lifetime / 2);
    let planned = expires_at.saturating_sub(margin);
    not_before
        .map_or(planned, |not_before| planned.max(not_before))
        .min(expires_at)
}

/// The pause after the `failures`-th failed automatic refresh in a row (1 or more): 10 s, 20 s,
/// 40 s ... up to 5 minutes.
pub(super) fn refresh_pause(failures: u32) -> i64 {
    (FIRST_REFRESH_PAUSE << failures.saturating_sub(1).min(8)).min(MAX_REFRESH_PAUSE)
}

/// The pause after the `failures`-th failed storage write in a row (1 or more): 5 s, 10 s,
/// 20 s, 40 s, then a minute.
pub(super) fn write_pause(failures: u32) -> u64 {
    (FIRST_WRITE_PAUSE << failures.saturating_sub(1).min(4)).min(MAX_WRITE_PAUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;

    #[test]
    fn a_session_is_refreshed_the_margin_before_it_expires() {
        assert_eq!(refresh_at(10 * HOUR, 0, 300, None), 10 * HOUR - 300);
    }

    #[test]
    fn a_short_session_is_refreshed_half_way_not_at_once() {
        assert_eq!(refresh_at(1_000 + 400, 1_000, 300, None), 1_000 + 200);
        assert_eq!(
            refresh_at(1_000, 1_000, 300, None),
            1_000,
            "no lifetime: at expiry"
        );
    }

    #[test]
    fn a_backoff_delays_the_refresh_but_never_past_expiry() {
        let expires = 10 * HOUR;
        assert_eq!(
            refresh_at(expires, 0, 300, Some(expires - 100)),
            expires - 100
        );
        assert_eq!(refresh_at(expires, 0, 300, Some(expires + 50)), expires);
        assert_eq!(refresh_at(expires, 0, 300, Some(0)), expires - 300);
    }

    #[test]
    fn instants_from_a_server_never_overflow() {
        assert_eq!(
            refresh_at(i64::MAX, i64::MIN, i64::MAX, None),
            i64::MAX / 2 + 1
        );
        assert_eq!(refresh_at(i64::MIN, 0, 300, None), i64::MIN);
    }

    #[test]
    fn refresh_pauses_double_up_to_five_minutes() {
        let pauses: Vec<i64> = (1..=7).map(refresh_pause).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(refresh_pause(u32::MAX), 300);
        assert_eq!(refresh_pause(0), 10, "defined even before a first failure");
    }

    #[test]
    fn write_pauses_double_up_to_a_minute() {
        let pauses: Vec<u64> = (1..=6).map(write_pause).collect();
        assert_eq!(pauses, [5, 10, 20, 40, 60, 60]);
        assert_eq!(write_pause(u32::MAX), 60);
    }
}
