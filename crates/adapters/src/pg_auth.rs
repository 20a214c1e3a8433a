//! PostgreSQL repositories of users and organisations.

use async_trait::async_trait;
use auth::accounts::refusal;
use auth::{
    AccountError, CreateUserError, NewUser, TokenState, User, UserChange, UserCredentials,
    UserFilter, UserRepository,
};
use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::{Entity, OrgId, OrgScope, Page, PageRequest, RepoError, Role, UserId};
use org::{CreateOrgError, OrgRepository, Organization};

use crate::db::{DbPool, conn, db_error, scope_ids};
use crate::pg_leads::strpos;
use crate::schema::{organizations, revoked_tokens, users};

diesel::define_sql_function! {
    /// The text in lower case (for searches that ignore case).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

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

type UserRow = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    String,
    bool,
    bool,
    i32,
    DateTime<Utc>,
);

/// A stored user with its password hash and credential version.
fn to_user(r: UserRow) -> Result<(User, String, i32), RepoError> {
    let (id, username, hash, display_name, role, org_id, org_name, enabled, must_change, ver, at) =
        r;
    let role: Role = role
        .parse()
        .map_err(|e: String| RepoError::Other(anyhow::anyhow!(e)))?;
    let user = User {
        id: UserId(id),
        username,
        display_name,
        role,
        org_id: OrgId(org_id),
        org_name,
        enabled,
        password_change_required: must_change,
        created_at: at,
    };
    Ok((user, hash, ver))
}

/// The columns of a [`UserRow`].
macro_rules! user_columns {
    () => {
        (
            users::id,
            users::username,
            users::password_hash,
            users::display_name,
            users::role,
            users::org_id,
            organizations::name,
            users::enabled,
            users::must_change_password,
            users::token_version,
            users::create_time,
        )
    };
}

macro_rules! user_select {
    () => {
        users::table
            .inner_join(organizations::table)
            .select(user_columns!())
    };
}

async fn user_by_id(
    c: &mut AsyncPgConnection,
    id: UserId,
) -> Result<Option<(User, String, i32)>, RepoError> {
    let row: Option<UserRow> = user_select!()
        .filter(users::id.eq(id.0))
        .first(c)
        .await
        .optional()
        .map_err(db_error)?;
    row.map(to_user).transpose()
}

/// The enabled admins of `org` other than `except`.
async fn other_enabled_admins(
    c: &mut AsyncPgConnection,
    org: i64,
    except: UserId,
) -> diesel::QueryResult<i64> {
    users::table
        .filter(users::org_id.eq(org))
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::enabled.eq(true))
        .filter(users::id.ne(except.0))
        .select(count_star())
        .get_result(c)
        .await
}

/// Why one attempt of [`PgUsers::update`]'s transaction stopped.
enum UpdateStop {
    /// The user moved to another organisation between the first read and the lock: try again.
    Moved,
    /// Refused or failed: the answer.
    Refused(AccountError),
    /// The database failed.
    Db(DieselError),
}

impl From<DieselError> for UpdateStop {
    fn from(e: DieselError) -> Self {
        UpdateStop::Db(e)
    }
}

/// One attempt at a user change: lock the organisations involved (in id order, so that two
/// changes never wait for each other in turn), then the user, then check and write.
async fn update_once(
    c: &mut AsyncPgConnection,
    scope: &OrgScope,
    actor: UserId,
    id: UserId,
    change: &UserChange,
) -> Result<(), UpdateStop> {
    let not_found = || UpdateStop::Refused(AccountError::NotFound(Entity::User));
    let seen_org: i64 = users::table
        .filter(users::id.eq(id.0))
        .select(users::org_id)
        .first(c)
        .await
        .optional()?
        .filter(|org| scope.contains(OrgId(*org)))
        .ok_or_else(not_found)?;
    let mut orgs = vec![seen_org];
    orgs.extend(change.org_id.map(|o| o.0));
    orgs.sort_unstable();
    orgs.dedup();
    let locked: Vec<i64> = organizations::table
        .filter(organizations::id.eq_any(&orgs))
        .order(organizations::id)
        .select(organizations::id)
        .for_update()
        .load(c)
        .await?;
    if locked.len() != orgs.len() {
        return Err(UpdateStop::Refused(AccountError::NotFound(
            Entity::Organisation,
        )));
    }
    let row: UserRow = user_select!()
        .filter(users::id.eq(id.0))
        .for_update()
        .first(c)
        .await
        .optional()?
        .ok_or_else(not_found)?;
    let (before, _, _) = to_user(row).map_err(|e| UpdateStop::Refused(e.into()))?;
    if before.org_id.0 != seen_org {
        return Err(UpdateStop::Moved);
    }
    let others = other_enabled_admins(c, seen_org, id).await?;
    if let Some(refused) = refusal(actor, &before, change, others) {
        return Err(UpdateStop::Refused(refused));
    }
    diesel::update(users::table.filter(users::id.eq(id.0)))
        .set((
            users::display_name.eq(change.display_name.as_ref().unwrap_or(&before.display_name)),
            users::role.eq(change.role.unwrap_or(before.role).as_str()),
            users::org_id.eq(change.org_id.unwrap_or(before.org_id).0),
            users::enabled.eq(change.enabled.unwrap_or(before.enabled)),
        ))
        .execute(c)
        .await?;
    Ok(())
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
            o.map(|(user, password_hash, token_version)| UserCredentials {
                user,
                password_hash,
                token_version,
            })
        })
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepoError> {
        let mut c = conn(&self.pool).await?;
        Ok(user_by_id(&mut c, id).await?.map(|(u, _, _)| u))
    }

    async fn find_token_state(&self, id: UserId) -> Result<Option<TokenState>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let Some((user, _, token_version)) = user_by_id(&mut c, id).await? else {
            return Ok(None);
        };
        let revoked: Vec<String> = revoked_tokens::table
            .filter(revoked_tokens::user_id.eq(id.0))
            .filter(revoked_tokens::expires_at.gt(diesel::dsl::now))
            .select(revoked_tokens::token_id)
            .load(&mut c)
            .await
            .map_err(db_error)?;
        Ok(Some(TokenState {
            user,
            token_version,
            revoked,
        }))
    }

    async fn create(
        &self,
        u: NewUser,
        audit: Option<audit::Entry>,
    ) -> Result<User, CreateUserError> {
        let mut c = conn(&self.pool).await?;
        let id: i64 = c
            .transaction(async |c| {
                let id: i64 = diesel::insert_into(users::table)
                    .values((
                        users::username.eq(&u.username),
                        users::password_hash.eq(&u.password_hash),
                        users::display_name.eq(&u.display_name),
                        users::role.eq(u.role.as_str()),
                        users::org_id.eq(u.org_id.0),
                    ))
                    .returning(users::id)
                    .get_result(c)
                    .await?;
                if let Some(audit) = audit {
                    let audit = audit
                        .on(audit::Target::User(UserId(id)))
                        .detail("username", u.username.as_str())
                        .detail("role", u.role.as_str())
                        .detail("org_id", u.org_id.0);
                    crate::pg_audit::insert(c, &audit).await?;
                }
                diesel::QueryResult::Ok(id)
            })
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
        user_by_id(&mut c, UserId(id))
            .await?
            .map(|(u, _, _)| u)
            .ok_or_else(|| {
                CreateUserError::Repo(RepoError::Other(anyhow::anyhow!("user vanished")))
            })
    }

    async fn list(
        &self,
        scope: &OrgScope,
        f: &UserFilter,
        page: PageRequest,
    ) -> Result<Page<User>, RepoError> {
        let query = || {
            let mut q = users::table
                .inner_join(organizations::table)
                .into_boxed()
                .filter(users::org_id.eq_any(scope_ids(scope)));
            if let Some(org) = f.org_id {
                q = q.filter(users::org_id.eq(org.0));
            }
            if let Some(role) = f.role {
                q = q.filter(users::role.eq(role.as_str()));
            }
            if let Some(enabled) = f.enabled {
                q = q.filter(users::enabled.eq(enabled));
            }
            if let Some(k) = &f.keyword {
                let k = k.to_lowercase();
                q = q.filter(
                    strpos(lower(users::username), k.clone()).gt(0).or(strpos(
                        lower(users::display_name),
                        k,
                    )
                    .gt(0)),
                );
            }
            q
        };
        let mut c = conn(&self.pool).await?;
        let total: i64 = query()
            .select(count_star())
            .get_result(&mut c)
            .await
            .map_err(db_error)?;
        let rows: Vec<UserRow> = query()
            .select(user_columns!())
            .order(users::id)
            .limit(page.limit())
            .offset(page.offset())
            .load(&mut c)
            .await
            .map_err(db_error)?;
        let items = rows
            .into_iter()
            .map(|r| to_user(r).map(|(u, _, _)| u))
            .collect::<Result<_, _>>()?;
        Ok(Page::new(items, page, total))
    }

    async fn update(
        &self,
        scope: &OrgScope,
        actor: UserId,
        id: UserId,
        change: &UserChange,
        audit: audit::Entry,
    ) -> Result<User, AccountError> {
        let mut c = conn(&self.pool).await?;
        // a user moved by someone else between the first read and the lock is read again; three
        // moves in a row within milliseconds do not happen but must not loop
        for _ in 0..3 {
            let attempt = c
                // a refusal has written nothing: the transaction ends and answers it
                .transaction(
                    async |c| match update_once(c, scope, actor, id, change).await {
                        Ok(()) => {
                            crate::pg_audit::insert(c, &audit).await?;
                            Ok(Ok(()))
                        }
                        Err(UpdateStop::Db(e)) => Err(e),
                        other => Ok(other),
                    },
                )
                .await
                .map_err(db_error)?;
            match attempt {
                Ok(()) => {
                    return user_by_id(&mut c, id)
                        .await?
                        .map(|(u, _, _)| u)
                        .ok_or(AccountError::NotFound(Entity::User));
                }
                Err(UpdateStop::Moved) => continue,
                Err(UpdateStop::Refused(e)) => return Err(e),
                Err(UpdateStop::Db(e)) => return Err(db_error(e).into()),
            }
        }
        Err(RepoError::Other(anyhow::anyhow!("user {id} kept moving")).into())
    }

    async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        must_change: bool,
        audit: audit::Entry,
    ) -> Result<Option<i32>, RepoError> {
        crate::pg_audit::audited!(
            &self.pool,
            |c| {
                diesel::update(users::table.filter(users::id.eq(id.0)))
                    .set((
                        users::password_hash.eq(password_hash),
                        users::must_change_password.eq(must_change),
                        users::token_version.eq(users::token_version + 1),
                    ))
                    .returning(users::token_version)
                    .get_result(c)
                    .await
                    .optional()
            },
            |v: &Option<i32>| v.map(|_| audit),
        )
    }

    async fn revoke_token(
        &self,
        user: UserId,
        token_id: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let mut c = conn(&self.pool).await?;
        diesel::insert_into(revoked_tokens::table)
            .values((
                revoked_tokens::token_id.eq(token_id),
                revoked_tokens::user_id.eq(user.0),
                revoked_tokens::expires_at.eq(expires_at),
            ))
            .on_conflict_do_nothing()
            .execute(&mut c)
            .await
            .map_err(db_error)?;
        diesel::delete(
            revoked_tokens::table.filter(revoked_tokens::expires_at.le(diesel::dsl::now)),
        )
        .execute(&mut c)
        .await
        .map_err(db_error)?;
        Ok(())
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

    async fn all(&self) -> Result<Vec<Organization>, RepoError> {
        let mut c = conn(&self.pool).await?;
        let rows: Vec<(i64, String, Option<i64>)> = organizations::table
            .select((
                organizations::id,
                organizations::name,
                organizations::parent_id,
            ))
            .order(organizations::id)
            .load(&mut c)
            .await
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(id, name, parent_id)| Organization {
                id: OrgId(id),
                name,
                parent_id: parent_id.map(OrgId),
            })
            .collect())
    }

    async fn create(
        &self,
        name: &str,
        parent: Option<OrgId>,
        audit: audit::Entry,
    ) -> Result<Organization, CreateOrgError> {
        let mut c = conn(&self.pool).await?;
        let (id, name, parent_id): (i64, String, Option<i64>) = c
            .transaction(async |c| {
                let row: (i64, String, Option<i64>) = diesel::insert_into(organizations::table)
                    .values((
                        organizations::name.eq(name),
                        organizations::parent_id.eq(parent.map(|p| p.0)),
                    ))
                    .returning((
                        organizations::id,
                        organizations::name,
                        organizations::parent_id,
                    ))
                    .get_result(c)
                    .await?;
                let mut audit = audit
                    .on(audit::Target::Org(OrgId(row.0)))
                    .detail("name", row.1.as_str());
                // an organisation is recorded in its parent's trail (a new root in its own)
                audit.org_id = Some(OrgId(row.2.unwrap_or(row.0)));
                crate::pg_audit::insert(c, &audit).await?;
                diesel::QueryResult::Ok(row)
            })
            .await
            .map_err(|e| match e {
                DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                    CreateOrgError::ParentNotFound
                }
                DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                    CreateOrgError::NameTaken
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
