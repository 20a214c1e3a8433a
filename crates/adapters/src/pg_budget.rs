//! [`PgSlots`]: the request budget of a platform account kept in PostgreSQL
//! (`platform_budget`, one row per account), so that every instance of the service takes its
//! slots from the same rate. Each reservation locks the account's row, applies the rules of
//! [`BucketState`] with the database's clock, and writes the row back: instances are paced
//! together, whatever their own clocks say.
//!
//! When the database cannot be reached, slots come from this process's memory at the last rate
//! read, so that lifecycle requests are not held hostage; pacing is then per instance until the
//! database returns.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::db::{DbPool, conn, db_error};
use crate::platform::budget::{
    BucketState, Class, LocalSlots, RateMode, Reservation, SlotSource, delta,
};
use crate::schema::platform_budget;

/// The account's budget row in PostgreSQL.
pub struct PgSlots {
    pool: DbPool,
    account: String,
    mode: RateMode,
    fallback: LocalSlots,
    warned: Mutex<bool>,
}

type Row = (
    f64,
    bool,
    f64,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    i64,
    i64,
    Vec<DateTime<Utc>>,
);

fn state_of(r: Row) -> BucketState {
    BucketState {
        rate: r.0,
        slow_start: r.1,
        ceiling: r.2,
        next_free: r.3,
        last_read: r.4,
        dispatch_demand_until: r.5,
        last_cut: r.6,
        reserved: r.7,
        throttled: r.8,
        recent: r.9,
    }
}

diesel::define_sql_function! {
    /// The database's clock now (not the transaction's start).
    fn clock_timestamp() -> diesel::sql_types::Timestamptz;
}

impl PgSlots {
    /// The budget of `account` (see `PlatformSettings::account`) over `pool`.
    pub fn new(pool: DbPool, account: String, mode: RateMode) -> Self {
        Self {
            pool,
            account,
            mode,
            fallback: LocalSlots::new(mode),
            warned: Mutex::new(false),
        }
    }

    /// Lock the account's row (creating it first), change it with `f` at the database's now,
    /// write it back; returns what `f` returned and that now.
    async fn update<T: Send>(
        &self,
        f: impl FnOnce(&mut BucketState, DateTime<Utc>) -> T + Send,
    ) -> Result<(T, DateTime<Utc>), kernel::RepoError> {
        let mut c = conn(&self.pool).await?;
        let account = self.account.clone();
        let result: Result<(T, DateTime<Utc>), diesel::result::Error> = c
            .transaction(async |c| {
                let locked = || {
                    platform_budget::table
                        .find(account.clone())
                        .select((
                            (
                                platform_budget::rate,
                                platform_budget::slow_start,
                                platform_budget::ceiling,
                                platform_budget::next_free,
                                platform_budget::last_read,
                                platform_budget::dispatch_demand_until,
                                platform_budget::last_cut,
                                platform_budget::reserved,
                                platform_budget::throttled,
                                platform_budget::recent_slots,
                            ),
                            clock_timestamp(),
                        ))
                        .for_update()
                };
                let found: Option<(Row, DateTime<Utc>)> = locked().first(c).await.optional()?;
                let (row, now) = match found {
                    Some(r) => r,
                    None => {
                        // the account's first request: its row, then the lock
                        let fresh = BucketState::new(Utc::now());
                        diesel::insert_into(platform_budget::table)
                            .values((
                                platform_budget::account.eq(&account),
                                platform_budget::rate.eq(fresh.rate),
                                platform_budget::slow_start.eq(fresh.slow_start),
                                platform_budget::next_free.eq(fresh.next_free),
                                platform_budget::last_read.eq(fresh.last_read),
                                platform_budget::dispatch_demand_until
                                    .eq(fresh.dispatch_demand_until),
                                platform_budget::last_cut.eq(fresh.last_cut),
                            ))
                            .on_conflict_do_nothing()
                            .execute(c)
                            .await?;
                        locked().first(c).await?
                    }
                };
                let mut state = state_of(row);
                let out = f(&mut state, now);
                diesel::update(platform_budget::table.find(&account))
                    .set((
                        platform_budget::rate.eq(state.rate),
                        platform_budget::slow_start.eq(state.slow_start),
                        platform_budget::ceiling.eq(state.ceiling),
                        platform_budget::next_free.eq(state.next_free),
                        platform_budget::last_read.eq(state.last_read),
                        platform_budget::dispatch_demand_until.eq(state.dispatch_demand_until),
                        platform_budget::last_cut.eq(state.last_cut),
                        platform_budget::reserved.eq(state.reserved),
                        platform_budget::throttled.eq(state.throttled),
                        platform_budget::recent_slots.eq(&state.recent),
                        platform_budget::updated_at.eq(now),
                    ))
                    .execute(c)
                    .await?;
                Ok((out, now))
            })
            .await;
        result.map_err(db_error)
    }

    fn warn_once(&self, e: &kernel::RepoError) {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if !*warned {
            tracing::warn!(error = %e, "platform budget unreachable in the database; pacing in memory until it returns");
            *warned = true;
        }
    }
}

#[async_trait]
impl SlotSource for PgSlots {
    async fn reserve(&self, class: Class) -> Reservation {
        let mode = self.mode;
        match self
            .update(move |state, now| {
                let slot = state.reserve(class, now, mode);
                Reservation::of(slot, state, now, mode)
            })
            .await
        {
            Ok((reservation, _)) => {
                *self.warned.lock().unwrap_or_else(|p| p.into_inner()) = false;
                reservation
            }
            Err(e) => {
                self.warn_once(&e);
                self.fallback.reserve(class).await
            }
        }
    }

    async fn throttled(&self, sent_ago: std::time::Duration) {
        let mode = self.mode;
        if let Err(e) = self
            .update(move |state, now| state.throttled(now, mode, delta(sent_ago)))
            .await
        {
            self.warn_once(&e);
            self.fallback.throttled(sent_ago).await;
        }
    }
}
