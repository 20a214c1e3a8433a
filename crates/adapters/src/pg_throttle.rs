//! [`PgFailures`]: the login throttle's failures in `login_failures`, shared by every instance.

use async_trait::async_trait;
use auth::{FailureStore, FailureTimes};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use kernel::RepoError;

use crate::db::{DbPool, conn, db_error};
use crate::schema::login_failures;

/// [`FailureStore`] on PostgreSQL.
#[derive(Clone)]
pub struct PgFailures {
    pool: DbPool,
}

impl PgFailures {
    /// Over this pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl FailureStore for PgFailures {
    async fn failures(
        &self,
        username: &str,
        addr: &str,
        since: DateTime<Utc>,
    ) -> Result<FailureTimes, RepoError> {
        let mut c = conn(&self.pool).await?;
        let times = |q: login_failures::BoxedQuery<'static, diesel::pg::Pg>| {
            q.filter(login_failures::at.gt(since))
                .select(login_failures::at)
                .order(login_failures::at)
        };
        let users: Vec<DateTime<Utc>> = times(
            login_failures::table
                .filter(login_failures::username.eq(username.to_owned()))
                .into_boxed(),
        )
        .load(&mut c)
        .await
        .map_err(db_error)?;
        let addrs: Vec<DateTime<Utc>> = times(
            login_failures::table
                .filter(login_failures::client_addr.eq(addr.to_owned()))
                .into_boxed(),
        )
        .load(&mut c)
        .await
        .map_err(db_error)?;
        Ok((users, addrs))
    }

    async fn record(
        &self,
        username: &str,
        addr: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        c.transaction(async |c| {
            diesel::insert_into(login_failures::table)
                .values((
                    login_failures::username.eq(username),
                    login_failures::client_addr.eq(addr),
                    login_failures::at.eq(at),
                ))
                .execute(c)
                .await?;
            diesel::delete(login_failures::table.filter(login_failures::at.le(forget_before)))
                .execute(c)
                .await?;
            diesel::QueryResult::Ok(())
        })
        .await
        .map_err(db_error)
    }

    async fn clear(&self, username: &str) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        diesel::delete(login_failures::table.filter(login_failures::username.eq(username)))
            .execute(&mut c)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
