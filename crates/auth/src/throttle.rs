//! Login rate limiting: failures counted per username and per client address in a sliding window.
//! The failures are kept in this process ([`LoginThrottle::new`], for one instance and tests) or
//! in a [`FailureStore`] that every instance shares ([`LoginThrottle::shared`]), so that five
//! failures of a username stay five across the fleet.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use kernel::RepoError;

/// The times of a username's failures and of an address's, oldest first.
pub type FailureTimes = (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>);

/// Failed logins kept where every instance sees them.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait FailureStore: Send + Sync + 'static {
    /// The times of the failures of `username`, and of `addr`, since `since`.
    async fn failures(
        &self,
        username: &str,
        addr: &str,
        since: DateTime<Utc>,
    ) -> Result<FailureTimes, RepoError>;
    /// Record a failure at `at`, and forget the failures from before `forget_before`.
    async fn record(
        &self,
        username: &str,
        addr: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<(), RepoError>;
    /// Forget a username's failures.
    async fn clear(&self, username: &str) -> Result<(), RepoError>;
}

/// Seconds until `times` (failures in the window, oldest first) fall under `limit` again.
fn wait_for(
    times: &[DateTime<Utc>],
    limit: usize,
    window: Duration,
    now: DateTime<Utc>,
) -> Option<i64> {
    let idx = times.len().checked_sub(limit)?;
    // blocked until the oldest failure that keeps the count at the limit expires
    let until = *times.get(idx)? + window;
    Some((until - now).num_seconds().max(1))
}

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

/// The throttle's view of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Seconds until the username or the address may try again, when blocked.
    pub retry_after: Option<i64>,
    /// The username's failures in the window.
    pub username_failures: usize,
}

/// Counts failed logins, in memory or in a shared store.
pub struct LoginThrottle {
    limits: ThrottleLimits,
    state: Mutex<State>,
    shared: Option<Arc<dyn FailureStore>>,
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
    /// A throttle with these limits, counting in this process.
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
            shared: None,
        }
    }

    /// A throttle with these limits, counting in `store` (shared by every instance).
    pub fn shared(limits: ThrottleLimits, store: Arc<dyn FailureStore>) -> Self {
        Self {
            shared: Some(store),
            ..Self::new(limits)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the throttle says of an attempt at `now`: whether it must wait, and whether the
    /// username has failures to forget should it succeed.
    pub async fn check(
        &self,
        username: &str,
        addr: &str,
        now: DateTime<Utc>,
    ) -> Result<Check, RepoError> {
        let since = now - self.limits.window;
        let (users, addrs) = match &self.shared {
            Some(store) => store.failures(username, addr, since).await?,
            None => {
                let mut guard = self.lock();
                let st = &mut *guard;
                let times = |map: &mut HashMap<String, VecDeque<DateTime<Utc>>>, key: &str| {
                    map.get_mut(key).map_or_else(Vec::new, |q| {
                        prune(q, since);
                        q.iter().copied().collect()
                    })
                };
                (times(&mut st.users, username), times(&mut st.addrs, addr))
            }
        };
        let window = self.limits.window;
        let waits = [
            wait_for(&users, self.limits.per_username, window, now),
            wait_for(&addrs, self.limits.per_address, window, now),
        ];
        Ok(Check {
            retry_after: waits.into_iter().flatten().max(),
            username_failures: users.len(),
        })
    }

    /// Record a failed attempt.
    pub async fn record_failure(
        &self,
        username: &str,
        addr: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let since = now - self.limits.window;
        if let Some(store) = &self.shared {
            return store.record(username, addr, now, since).await;
        }
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
        Ok(())
    }

    /// Forget a username's failures after a successful attempt that `check` looked at: nothing
    /// to do (and no write to the shared store) when it saw none.
    pub async fn record_success(&self, username: &str, check: &Check) -> Result<(), RepoError> {
        if check.username_failures == 0 {
            return Ok(());
        }
        if let Some(store) = &self.shared {
            return store.clear(username).await;
        }
        self.lock().users.remove(username);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn blocked(t: &LoginThrottle, user: &str, addr: &str, at: DateTime<Utc>) -> bool {
        t.check(user, addr, at).await.unwrap().retry_after.is_some()
    }

    #[tokio::test]
    async fn blocks_after_five_failures_per_username_until_window_passes() {
        let t = LoginThrottle::new(ThrottleLimits::default());
        let t0 = Utc::now();
        for i in 0..5 {
            assert!(!blocked(&t, "bob", "1.1.1.1", t0).await, "attempt {i}");
            t.record_failure("bob", "1.1.1.1", t0).await.unwrap();
        }
        assert!(blocked(&t, "bob", "2.2.2.2", t0).await);
        assert!(!blocked(&t, "alice", "1.1.1.1", t0).await);
        assert!(!blocked(&t, "bob", "2.2.2.2", t0 + Duration::minutes(16)).await);
    }

    #[tokio::test]
    async fn blocks_an_address_after_fifty_failures() {
        let t = LoginThrottle::new(ThrottleLimits::default());
        let t0 = Utc::now();
        for i in 0..50 {
            t.record_failure(&format!("user{i}"), "9.9.9.9", t0)
                .await
                .unwrap();
        }
        assert!(blocked(&t, "someone", "9.9.9.9", t0).await);
        assert!(!blocked(&t, "someone", "8.8.8.8", t0).await);
    }

    #[tokio::test]
    async fn a_shared_store_counts_what_every_instance_recorded() {
        let t0 = Utc::now();
        // four failures recorded elsewhere, one minute apart, and a fifth here
        let earlier: Vec<_> = (0..5).map(|i| t0 - Duration::minutes(5 - i)).collect();
        let mut store = MockFailureStore::new();
        store
            .expect_failures()
            .returning(move |_, _, _| Ok((earlier.clone(), vec![])));
        let t = LoginThrottle::shared(ThrottleLimits::default(), Arc::new(store));
        let wait = t.check("bob", "1.1.1.1", t0).await.unwrap().retry_after;
        // the oldest of the five expires 15 minutes after it: 10 minutes from now
        assert_eq!(wait, Some(600));
    }

    #[tokio::test]
    async fn a_success_clears_the_shared_store_only_when_the_username_had_failures() {
        let t0 = Utc::now();
        let mut store = MockFailureStore::new();
        let failed = Arc::new(std::sync::Mutex::new(vec![vec![], vec![t0]]));
        store
            .expect_failures()
            .returning(move |_, _, _| Ok((failed.lock().unwrap().remove(0), vec![])));
        store.expect_clear().times(1).returning(|_| Ok(()));
        let t = LoginThrottle::shared(ThrottleLimits::default(), Arc::new(store));
        let clean = t.check("bob", "1.1.1.1", t0).await.unwrap();
        t.record_success("bob", &clean).await.unwrap(); // no write: nothing to forget
        let after_a_failure = t.check("bob", "1.1.1.1", t0).await.unwrap();
        assert_eq!(after_a_failure.username_failures, 1);
        t.record_success("bob", &after_a_failure).await.unwrap();
    }
}
