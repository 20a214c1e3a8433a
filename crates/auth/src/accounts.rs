//! The admins' management of accounts within their organisation subtree: list, create, change
//! role, organisation or name, disable and enable, reset a password. Another subtree's users and
//! organisations are not found; operators are refused.

use std::sync::Arc;

use audit::{Action, Entry, Target};
use kernel::{Caller, Entity, Invalid, OrgId, Page, PageRequest, RepoError, Role, UserId};

use crate::{
    AuthService, CreateUserError, NewUser, PasswordHasher, User, UserRepository, validate_password,
    validate_username,
};

/// Which users to list (every condition optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Users of this organisation only (it must be in the caller's subtree).
    pub org_id: Option<OrgId>,
    /// Part of the username or display name.
    pub keyword: Option<String>,
    /// This role only.
    pub role: Option<Role>,
    /// Enabled or disabled users only.
    pub enabled: Option<bool>,
}

/// A change to a user; what is `None` stays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    /// New display name.
    pub display_name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New organisation (in the caller's subtree).
    pub org_id: Option<OrgId>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

impl UserChange {
    /// Whether it only enables or disables (what the trail calls a disable or an enable).
    fn is_only_enabled(&self) -> bool {
        self.enabled.is_some()
            && self.display_name.is_none()
            && self.role.is_none()
            && self.org_id.is_none()
    }
}

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Organisation (in the caller's subtree).
    pub org_id: OrgId,
    /// Login name.
    pub username: String,
    /// Name shown (default: the username).
    pub display_name: Option<String>,
    /// Role.
    pub role: Role,
    /// Initial password.
    pub password: String,
}

/// Why an account could not be managed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The caller is not an admin.
    #[error("admins only")]
    Forbidden,
    /// A value breaks its rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// No such user or organisation in the caller's subtree.
    #[error("{0:?} not found")]
    NotFound(Entity),
    /// Another user has that username.
    #[error("username already taken")]
    UsernameTaken,
    /// An admin may not disable, demote or move their own account, nor reset their own password
    /// (they change it, knowing the current one).
    #[error("an admin cannot disable, demote, move or reset their own account")]
    OwnAccount,
    /// The change would leave an organisation without an enabled admin.
    #[error("the organisation would lose its last enabled admin")]
    LastAdmin,
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// Anything else (hashing).
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

impl From<CreateUserError> for AccountError {
    fn from(e: CreateUserError) -> Self {
        match e {
            CreateUserError::UsernameTaken => AccountError::UsernameTaken,
            CreateUserError::OrgNotFound => AccountError::NotFound(Entity::Organisation),
            CreateUserError::Repo(r) => AccountError::Repo(r),
        }
    }
}

/// Whether `actor` may apply `change` to `before`, where `other_enabled_admins` counts the
/// enabled admins of `before`'s organisation other than `before` (read under the lock that
/// serialises changes to that organisation's users). An admin keeps their own account enabled,
/// admin and where it is; an organisation with an enabled admin keeps one.
pub fn refusal(
    actor: UserId,
    before: &User,
    change: &UserChange,
    other_enabled_admins: i64,
) -> Option<AccountError> {
    let role = change.role.unwrap_or(before.role);
    let enabled = change.enabled.unwrap_or(before.enabled);
    let org = change.org_id.unwrap_or(before.org_id);
    if before.id == actor && (!enabled || role != before.role || org != before.org_id) {
        return Some(AccountError::OwnAccount);
    }
    let was_admin_here = before.role == Role::Admin && before.enabled;
    let is_admin_here = role == Role::Admin && enabled && org == before.org_id;
    (was_admin_here && !is_admin_here && other_enabled_admins == 0)
        .then_some(AccountError::LastAdmin)
}

/// Longest display name, in characters.
const DISPLAY_NAME_MAX: usize = 64;
/// Longest keyword of a search, in characters.
const KEYWORD_MAX: usize = 100;

fn display_name(name: &str) -> Result<String, Invalid> {
    let name = name.trim();
    if (1..=DISPLAY_NAME_MAX).contains(&name.chars().count()) {
        Ok(name.to_owned())
    } else {
        Err(Invalid::Length {
            field: "display_name",
            min: 1,
            max: DISPLAY_NAME_MAX,
        })
    }
}

/// A temporary password: 14 characters that cannot be mistaken for each other when read aloud
/// or copied by hand (no 0/O, 1/l/I), about 80 bits.
fn temporary_password() -> String {
    use rand::seq::SliceRandom;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..14)
        .filter_map(|_| ALPHABET.choose(&mut rng).map(|&b| char::from(b)))
        .collect()
}

/// Account management over the auth ports (see the module's documentation).
#[derive(Clone)]
pub struct AccountService {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    /// The token checks of this process, told of every change (none on the command line).
    auth: Option<Arc<AuthService>>,
}

impl AccountService {
    /// Over the same ports and user cache as `auth`, so that a change is seen by this process's
    /// token checks at once.
    pub fn new(auth: Arc<AuthService>) -> Self {
        Self {
            users: auth.users.clone(),
            hasher: auth.hasher.clone(),
            auth: Some(auth),
        }
    }

    /// Over these ports, in a process that checks no tokens (the server's command line).
    pub fn offline(users: Arc<dyn UserRepository>, hasher: Arc<dyn PasswordHasher>) -> Self {
        Self {
            users,
            hasher,
            auth: None,
        }
    }

    fn forget(&self, id: UserId) {
        if let Some(auth) = &self.auth {
            auth.forget(id);
        }
    }

    fn admin(caller: &Caller) -> Result<(), AccountError> {
        if caller.role == Role::Admin {
            Ok(())
        } else {
            Err(AccountError::Forbidden)
        }
    }

    fn org_in_scope(caller: &Caller, org: OrgId) -> Result<(), AccountError> {
        if caller.scope.contains(org) {
            Ok(())
        } else {
            Err(AccountError::NotFound(Entity::Organisation))
        }
    }

    /// Users of the caller's subtree matching `filter`, by id.
    pub async fn list(
        &self,
        caller: &Caller,
        mut filter: UserFilter,
        page: PageRequest,
    ) -> Result<Page<User>, AccountError> {
        Self::admin(caller)?;
        if let Some(org) = filter.org_id {
            Self::org_in_scope(caller, org)?;
        }
        filter.keyword = filter
            .keyword
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty());
        if filter
            .keyword
            .as_ref()
            .is_some_and(|k| k.chars().count() > KEYWORD_MAX)
        {
            return Err(Invalid::Length {
                field: "keyword",
                min: 0,
                max: KEYWORD_MAX,
            }
            .into());
        }
        Ok(self.users.list(&caller.scope, &filter, page).await?)
    }

    /// Create an account in an organisation of the caller's subtree.
    pub async fn create(&self, caller: &Caller, new: NewAccount) -> Result<User, AccountError> {
        Self::admin(caller)?;
        validate_username(&new.username)?;
        let display_name = display_name(new.display_name.as_deref().unwrap_or(&new.username))?;
        validate_password("password", &new.password)?;
        Self::org_in_scope(caller, new.org_id)?;
        let password_hash = self.hasher.hash(&new.password).await?;
        let mut audit = Entry::by(caller, Action::UserCreate);
        audit.org_id = Some(new.org_id);
        Ok(self
            .users
            .create(
                NewUser {
                    username: new.username,
                    display_name,
                    role: new.role,
                    org_id: new.org_id,
                    password_hash,
                },
                Some(audit),
            )
            .await?)
    }

    /// Change a user of the caller's subtree (see [`refusal`] for what is refused).
    pub async fn update(
        &self,
        caller: &Caller,
        id: UserId,
        mut change: UserChange,
    ) -> Result<User, AccountError> {
        Self::admin(caller)?;
        change.display_name = change
            .display_name
            .as_deref()
            .map(display_name)
            .transpose()?;
        if let Some(org) = change.org_id {
            Self::org_in_scope(caller, org)?;
        }
        let action = match change.enabled {
            Some(false) if change.is_only_enabled() => Action::UserDisable,
            Some(true) if change.is_only_enabled() => Action::UserEnable,
            _ => Action::UserUpdate,
        };
        let mut audit = Entry::by(caller, action).on(Target::User(id));
        if let Some(role) = change.role {
            audit = audit.detail("role", role.as_str());
        }
        if let Some(org) = change.org_id {
            audit = audit.detail("org_id", org.0);
        }
        if let Some(enabled) = change.enabled {
            audit = audit.detail("enabled", enabled);
        }
        let user = self
            .users
            .update(&caller.scope, caller.user_id, id, &change, audit)
            .await?;
        self.forget(id);
        Ok(user)
    }

    /// Disable (`false`) or enable a user of the caller's subtree. A disabled user cannot log
    /// in, and their tokens are refused.
    pub async fn set_enabled(
        &self,
        caller: &Caller,
        id: UserId,
        enabled: bool,
    ) -> Result<User, AccountError> {
        let change = UserChange {
            enabled: Some(enabled),
            ..UserChange::default()
        };
        self.update(caller, id, change).await
    }

    /// Give a user of the caller's subtree a temporary password, answered once: their tokens
    /// are refused from then on, and they must change it at their next login.
    pub async fn reset_password(
        &self,
        caller: &Caller,
        id: UserId,
    ) -> Result<(User, String), AccountError> {
        Self::admin(caller)?;
        if id == caller.user_id {
            return Err(AccountError::OwnAccount);
        }
        let user = self
            .users
            .find_by_id(id)
            .await?
            .filter(|u| caller.scope.contains(u.org_id))
            .ok_or(AccountError::NotFound(Entity::User))?;
        let password = temporary_password();
        let hash = self.hasher.hash(&password).await?;
        let audit = Entry::by(caller, Action::UserResetPassword).on(Target::User(id));
        self.users
            .set_password(id, &hash, true, audit)
            .await?
            .ok_or(AccountError::NotFound(Entity::User))?;
        self.forget(id);
        let user = User {
            password_change_required: true,
            ..user
        };
        Ok((user, password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(id: i64, org: i64) -> User {
        User {
            id: UserId(id),
            username: format!("u{id}"),
            display_name: format!("U{id}"),
            role: Role::Admin,
            org_id: OrgId(org),
            org_name: "Org".into(),
            enabled: true,
            password_change_required: false,
            created_at: chrono::Utc::now(),
        }
    }

    fn change(role: Option<Role>, org: Option<i64>, enabled: Option<bool>) -> UserChange {
        UserChange {
            display_name: None,
            role,
            org_id: org.map(OrgId),
            enabled,
        }
    }

    #[test]
    fn an_admin_cannot_disable_demote_or_move_their_own_account() {
        let me = admin(1, 5);
        for c in [
            change(None, None, Some(false)),
            change(Some(Role::Operator), None, None),
            change(None, Some(6), None),
        ] {
            assert!(matches!(
                refusal(UserId(1), &me, &c, 3),
                Some(AccountError::OwnAccount)
            ));
        }
        // a new name, or "changes" that change nothing, are fine
        let rename = UserChange {
            display_name: Some("Me".into()),
            ..change(Some(Role::Admin), Some(5), Some(true))
        };
        assert!(refusal(UserId(1), &me, &rename, 0).is_none());
    }

    #[test]
    fn an_organisation_keeps_its_last_enabled_admin() {
        let other = admin(2, 5);
        for c in [
            change(None, None, Some(false)),
            change(Some(Role::Operator), None, None),
            change(None, Some(6), None),
        ] {
            assert!(matches!(
                refusal(UserId(1), &other, &c, 0),
                Some(AccountError::LastAdmin)
            ));
            assert!(
                refusal(UserId(1), &other, &c, 1).is_none(),
                "another admin stays"
            );
        }
        // a disabled admin or an operator was never the one keeping the organisation managed
        let disabled = User {
            enabled: false,
            ..admin(2, 5)
        };
        assert!(
            refusal(
                UserId(1),
                &disabled,
                &change(Some(Role::Operator), None, None),
                0
            )
            .is_none()
        );
        let operator = User {
            role: Role::Operator,
            ..admin(2, 5)
        };
        assert!(refusal(UserId(1), &operator, &change(None, None, Some(false)), 0).is_none());
    }

    #[test]
    fn temporary_passwords_are_long_unambiguous_and_differ() {
        let a = temporary_password();
        assert_eq!(a.chars().count(), 14);
        assert!(validate_password("password", &a).is_ok());
        assert!(!a.contains(['0', 'O', '1', 'l', 'I']), "{a}");
        assert_ne!(a, temporary_password());
    }
}
