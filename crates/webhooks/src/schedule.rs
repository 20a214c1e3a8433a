//! When a failed delivery is tried again: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after each
//! failure (about 28 hours in all), each ±10% so that endpoints that failed together are not all
//! called again at the same instant; after the eighth failure the delivery is failed for good.

use chrono::Duration;

/// The waits after the first, second, ... failure, in seconds.
pub const WAITS_SECS: [i64; 7] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];

/// The wait after failure number `failures` (1 for the first), scaled by `scale` (1.0 in
/// production; tests shorten it) and moved by `jitter` in -1.0..=1.0 (±10%); `None` when the
/// delivery has failed for good.
pub fn wait_after(failures: i32, scale: f64, jitter: f64) -> Option<Duration> {
    let index = usize::try_from(failures.checked_sub(1)?).ok()?;
    let secs = *WAITS_SECS.get(index)? as f64;
    let ms = secs * 1000.0 * scale * (1.0 + 0.1 * jitter.clamp(-1.0, 1.0));
    Some(Duration::milliseconds(ms.max(1.0) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_last_more_than_a_day_then_stop() {
        let total: i64 = (1..=7)
            .map(|n| wait_after(n, 1.0, -1.0).unwrap().num_seconds())
            .sum();
        assert!(total > 24 * 3600, "{total}");
        assert_eq!(wait_after(1, 1.0, 0.0), Some(Duration::seconds(5)));
        assert_eq!(wait_after(8, 1.0, 0.0), None);
        assert_eq!(wait_after(0, 1.0, 0.0), None);
        let w = wait_after(2, 1.0, 1.0).unwrap().num_seconds();
        assert_eq!(w, 330, "+10%");
    }
}
