//! PostgreSQL repositories of users and organisations.

use async_trait::async_trait;
use auth::{CreateUserError, NewUser, User, UserCredentials, UserRepository};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use kernel::{OrgId, RepoError, Role, UserId};
use org::{CreateOrgError, OrgRepository, Organization};

use crate::db::{DbPool, conn, db_error};
use crate::schema::{organizations, users};

/// [`UserRepository`] on PostgreSQL.
#[derive(Clone)]
pub struct PgUsers {
    pool: DbPool,
}

impl PgUsers {
    /// Over this pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

type UserRow = (i64, String, String, String, String, i64, String);

fn to_user(r: UserRow) -> Result<(User, String), RepoError> {
    let (id, username, password_hash, display_name, role, org_id, org_name) = r;
    let role: Role = role
        .parse()
        .map_err(|e: String| RepoError::Other(anyhow::anyhow!(e)))?;
    Ok((
        User {
            id: UserId(id),
            username,
            display_name,
            role,
            org_id: OrgId(org_id),
            org_name,
        },
        password_hash,
    ))
}

macro_rules! user_select {
    () => {
        users::table.inner_join(organizations::table).select((
            users::id,
            users::username,
            users::password_hash,
            users::display_name,
            users::role,
            users::org_id,
            organizations::name,
        ))
    };
}

#[async_trait]
impl UserRepository for PgUsers {
    async fn find_credentials(&self, username: &str) -> Result<Option<UserCredentials>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<UserRow> = user_select!()
            .filter(users::username.eq(username))
            .first(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        row.map(to_user).transpose().map(|o| {
            o.map(|(user, password_hash)| UserCredentials {
                user,
                password_hash,
            })
        })
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<UserRow> = user_select!()
            .filter(users::id.eq(id.0))
            .first(&mut c)
            .await
            .optional()
            .map_err(db_error)?;
        row.map(to_user).transpose().map(|o| o.map(|(u, _)| u))
    }

    async fn create(&self, u: NewUser) -> Result<User, CreateUserError> {
        let mut c = conn(&self.pool).await?;
        let id: i64 = diesel::insert_into(users::table)
            .values((
                users::username.eq(&u.username),
                users::password_hash.eq(&u.password_hash),
                users::display_name.eq(&u.display_name),
                users::role.eq(u.role.as_str()),
                users::org_id.eq(u.org_id.0),
            ))
            .returning(users::id)
            .get_result(&mut c)
            .await
            .map_err(|e| match e {
                DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                    CreateUserError::UsernameTaken
                }
                DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                    CreateUserError::OrgNotFound
                }
                e => CreateUserError::Repo(db_error(e)),
            })?;
        drop(c);
        self.find_by_id(UserId(id)).await?.ok_or_else(|| {
            CreateUserError::Repo(RepoError::Other(anyhow::anyhow!("user vanished")))
        })
    }
}

/// [`OrgRepository`] on PostgreSQL.
#[derive(Clone)]
pub struct PgOrgs {
    pool: DbPool,
}

impl PgOrgs {
    /// Over this pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

#[derive(QueryableByName)]
struct OrgRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    parent_id: Option<i64>,
}

#[async_trait]
impl OrgRepository for PgOrgs {
    async fn subtree(&self, org: OrgId) -> Result<Vec<Organization>, RepoError> {
        let mut c = conn(&self.pool).await?;
        // diesel's builder has no recursive CTE; the text is fixed and the id is a bound parameter
        let rows: Vec<OrgRow> = diesel::sql_query(
            "WITH RECURSIVE tree AS ( \
                SELECT id, name, parent_id, 0 AS depth FROM organizations WHERE id = $1 \
                UNION ALL \
                SELECT o.id, o.name, o.parent_id, t.depth + 1 FROM organizations o \
                JOIN tree t ON o.parent_id = t.id WHERE t.depth < 64 \
             ) SELECT id, name, parent_id FROM tree",
        )
        .bind::<BigInt, _>(org.0)
        .load(&mut c)
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|r| Organization {
                id: OrgId(r.id),
                name: r.name,
                parent_id: r.parent_id.map(OrgId),
            })
            .collect())
    }

    async fn create(
        &self,
        name: &str,
        parent: Option<OrgId>,
    ) -> Result<Organization, CreateOrgError> {
        let mut c = conn(&self.pool).await?;
        let (id, name, parent_id): (i64, String, Option<i64>) =
            diesel::insert_into(organizations::table)
                .values((
                    organizations::name.eq(name),
                    organizations::parent_id.eq(parent.map(|p| p.0)),
                ))
                .returning((
                    organizations::id,
                    organizations::name,
                    organizations::parent_id,
                ))
                .get_result(&mut c)
                .await
                .map_err(|e| match e {
                    DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                        CreateOrgError::ParentNotFound
                    }
                    e => CreateOrgError::Repo(db_error(e)),
                })?;
        Ok(Organization {
            id: OrgId(id),
            name,
            parent_id: parent_id.map(OrgId),
        })
    }
}
