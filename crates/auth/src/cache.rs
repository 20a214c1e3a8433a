//! The users recently read for a token, remembered for a short time (`AUTH_CACHE_MS`), so that
//! a request does not read its user from the database every time. What this process changes
//! itself (logout, password, an admin's change) is forgotten at once; what another instance
//! changes shows within the cache's time.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use kernel::UserId;

use crate::TokenState;

/// Most users remembered at once; past it, expired entries go, and if that is not enough, all.
const MAX: usize = 10_000;

/// See the module's documentation; without a time (`None`), nothing is remembered.
#[derive(Default)]
pub(crate) struct UserCache {
    pub(crate) ttl: Option<Duration>,
    entries: Mutex<HashMap<UserId, (DateTime<Utc>, TokenState)>>,
}

impl UserCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, (DateTime<Utc>, TokenState)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, id: UserId, now: DateTime<Utc>) -> Option<TokenState> {
        let ttl = self.ttl?;
        self.entries()
            .get(&id)
            .filter(|(read_at, _)| now < *read_at + ttl && now >= *read_at)
            .map(|(_, state)| state.clone())
    }

    pub(crate) fn put(&self, state: &TokenState, now: DateTime<Utc>) {
        let Some(ttl) = self.ttl else { return };
        let mut entries = self.entries();
        if entries.len() >= MAX {
            entries.retain(|_, (read_at, _)| now < *read_at + ttl);
            if entries.len() >= MAX {
                entries.clear();
            }
        }
        entries.insert(state.user.id, (now, state.clone()));
    }

    pub(crate) fn forget(&self, id: UserId) {
        self.entries().remove(&id);
    }
}
