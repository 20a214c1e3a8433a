//! Login rate limiting: failures counted per username and per client address in a sliding window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// How many failures are allowed within the window.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    /// Failures per username (contract: 5).
    pub per_username: usize,
    /// Failures per client address (contract: 50).
    pub per_address: usize,
    /// Window length (contract: 15 minutes).
    pub window: Duration,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            per_username: 5,
            per_address: 50,
            window: Duration::minutes(15),
        }
    }
}

/// Counts failed logins in memory. One per process: several instances each count their own.
#[derive(Debug)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    users: HashMap<String, VecDeque<DateTime<Utc>>>,
    addrs: HashMap<String, VecDeque<DateTime<Utc>>>,
    last_sweep: Option<DateTime<Utc>>,
}

fn prune(q: &mut VecDeque<DateTime<Utc>>, since: DateTime<Utc>) {
    while q.front().is_some_and(|t| *t <= since) {
        q.pop_front();
    }
}

impl LoginThrottle {
    /// A throttle with these limits.
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(seconds until allowed)` when this username or address is blocked at `now`.
    pub fn blocked(&self, username: &str, addr: &str, now: DateTime<Utc>) -> Option<i64> {
        let since = now - self.limits.window;
        let mut guard = self.lock();
        let st = &mut *guard;
        let mut wait = None::<i64>;
        for (map, key, limit) in [
            (&mut st.users, username, self.limits.per_username),
            (&mut st.addrs, addr, self.limits.per_address),
        ] {
            if let Some(q) = map.get_mut(key) {
                prune(q, since);
                if q.len() >= limit {
                    // blocked until the oldest failure that keeps the count at the limit expires
                    let idx = q.len() - limit;
                    let until = q[idx] + self.limits.window;
                    let secs = (until - now).num_seconds().max(1);
                    wait = Some(wait.map_or(secs, |w| w.max(secs)));
                }
            }
        }
        wait
    }

    /// Record a failed attempt.
    pub fn record_failure(&self, username: &str, addr: &str, now: DateTime<Utc>) {
        let since = now - self.limits.window;
        let mut st = self.lock();
        st.users
            .entry(username.to_owned())
            .or_default()
            .push_back(now);
        st.addrs.entry(addr.to_owned()).or_default().push_back(now);
        // sweep stale keys now and then so memory stays bounded
        if st.last_sweep.is_none_or(|t| now - t > self.limits.window) {
            st.users.retain(|_, q| {
                prune(q, since);
                !q.is_empty()
            });
            st.addrs.retain(|_, q| {
                prune(q, since);
                !q.is_empty()
            });
            st.last_sweep = Some(now);
        }
    }

    /// Forget a username's failures (after a successful login).
    pub fn record_success(&self, username: &str) {
        self.lock().users.remove(username);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_five_failures_per_username_until_window_passes() {
        let t = LoginThrottle::new(ThrottleLimits::default());
        let t0 = Utc::now();
        for i in 0..5 {
            assert!(t.blocked("bob", "1.1.1.1", t0).is_none(), "attempt {i}");
            t.record_failure("bob", "1.1.1.1", t0);
        }
        assert!(t.blocked("bob", "2.2.2.2", t0).is_some());
        assert!(t.blocked("alice", "1.1.1.1", t0).is_none());
        assert!(
            t.blocked("bob", "2.2.2.2", t0 + Duration::minutes(16))
                .is_none()
        );
    }

    #[test]
    fn blocks_an_address_after_fifty_failures() {
        let t = LoginThrottle::new(ThrottleLimits::default());
        let t0 = Utc::now();
        for i in 0..50 {
            t.record_failure(&format!("user{i}"), "9.9.9.9", t0);
        }
        assert!(t.blocked("someone", "9.9.9.9", t0).is_some());
        assert!(t.blocked("someone", "8.8.8.8", t0).is_none());
    }
}
