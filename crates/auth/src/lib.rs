//! # auth
//!
//! Users, credentials and access tokens.
//!
//! Owns: the [`User`] model, the login use case ([`AuthService::login`]) with its equal-work rule
//! for unknown users and its [`LoginThrottle`] (per username and per client address), token
//! verification ([`AuthService::authenticate`]) with what ends a token early (logout, a password
//! change, a disabled account), and the admins' management of accounts ([`AccountService`]) with
//! its rules (own account, last enabled admin: [`accounts::refusal`]).
//!
//! Ports (implemented in the `adapters` crate, mocked with mockall in tests):
//! - [`UserRepository`]: find, list, create and change users, revoke tokens,
//! - [`PasswordHasher`]: hash and verify passwords (argon2id in production),
//! - [`TokenCodec`]: issue and decode signed tokens (JWT HS256 in production).
//!
//! ```ignore
//! let auth = AuthService::new(users, hasher, tokens, clock, Duration::hours(12));
//! let session = auth.login("alice", "secret", "10.0.0.1").await?;
//! let caller_user = auth.authenticate(&session.access_token).await?;
//! ```

pub mod accounts;
mod cache;
mod service;
mod throttle;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{Invalid, OrgId, OrgScope, Page, PageRequest, RepoError, Role, UserId};
use serde::Serialize;

pub use accounts::{AccountError, AccountService, UserChange, UserFilter};
pub use service::{AuthError, AuthService, LoginError, PasswordChangeError, Session};
#[cfg(any(test, feature = "mock"))]
pub use throttle::MockFailureStore;
pub use throttle::{FailureStore, FailureTimes, LoginThrottle, ThrottleLimits};

/// A user as the API shows it (`User` of the contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// User id.
    pub id: UserId,
    /// Login name, unique.
    pub username: String,
    /// Name shown in the UI.
    pub display_name: String,
    /// Role in the organisation.
    pub role: Role,
    /// The user's organisation.
    pub org_id: OrgId,
    /// Name of that organisation.
    pub org_name: String,
    /// Whether the user may log in (a disabled user's tokens are refused too).
    pub enabled: bool,
    /// Whether the user must change a password an admin reset before doing anything else.
    pub password_change_required: bool,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

/// A user with the stored password hash, for the login check only.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// PHC-format password hash.
    pub password_hash: String,
    /// The credential version new tokens are issued under.
    pub token_version: i32,
}

/// What decides whether a token of a user is still good: the user, the credential version that
/// tokens must carry, and the ids of the user's tokens ended by logout (until they expire).
#[derive(Debug, Clone)]
pub struct TokenState {
    /// The user.
    pub user: User,
    /// Tokens issued under another version (before a password change) are refused.
    pub token_version: i32,
    /// Ids of logged-out tokens that have not expired yet.
    pub revoked: Vec<String>,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name (3..=64 chars of letters, digits, `._-@`).
    pub username: String,
    /// Display name (defaults to the username).
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Organisation.
    pub org_id: OrgId,
    /// Already hashed password.
    pub password_hash: String,
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// Another user has that name.
    #[error("username already taken")]
    UsernameTaken,
    /// The organisation does not exist.
    #[error("organisation not found")]
    OrgNotFound,
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Claims carried by an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Random id of this token (`jti`), what logout revokes.
    pub token_id: String,
    /// The user's credential version when it was issued (`ver`).
    pub version: i32,
    /// User id (`sub`).
    pub user_id: UserId,
    /// Organisation id (`org`).
    pub org_id: OrgId,
    /// Issued at, unix seconds.
    pub issued_at: i64,
    /// Expiry, unix seconds.
    pub expires_at: i64,
}

/// Storage of users.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync + 'static {
    /// The user with this username and their password hash.
    async fn find_credentials(&self, username: &str) -> Result<Option<UserCredentials>, RepoError>;
    /// The user with this id.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepoError>;
    /// The user with this id with what decides whether their tokens are good.
    async fn find_token_state(&self, id: UserId) -> Result<Option<TokenState>, RepoError>;
    /// Create a user, writing `audit` (when given) about them in the same transaction.
    async fn create(
        &self,
        user: NewUser,
        audit: Option<audit::Entry>,
    ) -> Result<User, CreateUserError>;
    /// Users of organisations in `scope` matching `filter`, by id.
    async fn list(
        &self,
        scope: &OrgScope,
        filter: &UserFilter,
        page: PageRequest,
    ) -> Result<Page<User>, RepoError>;
    /// Apply `change` to the user `id` of an organisation in `scope` (and `change.org_id`, when
    /// given, must be in it too), as one transaction that serialises with every other change to
    /// the same organisations' users, refused as [`accounts::refusal`] says for `actor`.
    async fn update(
        &self,
        scope: &OrgScope,
        actor: UserId,
        id: UserId,
        change: &UserChange,
        audit: audit::Entry,
    ) -> Result<User, AccountError>;
    /// Store a new password hash, set whether it must be changed at next login, and bump the
    /// credential version (refusing every token issued before). The new version; `None` when the
    /// user does not exist.
    async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        must_change: bool,
        audit: audit::Entry,
    ) -> Result<Option<i32>, RepoError>;
    /// Refuse the token `token_id` of `user` until `expires_at` (and forget revoked tokens that
    /// have expired).
    async fn revoke_token(
        &self,
        user: UserId,
        token_id: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), RepoError>;
}

/// Password hashing. Implementations must be slow on purpose (argon2id) and run off the async
/// executor.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hash a password into a PHC string.
    async fn hash(&self, password: &str) -> anyhow::Result<String>;
    /// Check a password. With `hash = None` (unknown user) the implementation does the same work
    /// against a dummy hash and returns `false`, so both cases take equal time.
    async fn verify(&self, password: &str, hash: Option<String>) -> bool;
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, wrong algorithm, malformed, or expired.
    #[error("invalid or expired token")]
    Invalid,
}

/// Issue and decode access tokens.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait TokenCodec: Send + Sync + 'static {
    /// Sign claims into a token.
    fn issue(&self, claims: &Claims) -> anyhow::Result<String>;
    /// Verify a token (signature, algorithm, expiry at `now` unix seconds) and return its claims.
    fn decode(&self, token: &str, now: i64) -> Result<Claims, TokenError>;
}

/// Validate a username for creation: 3..=64 of letters, digits, `._-@`.
pub fn validate_username(username: &str) -> Result<(), Invalid> {
    let ok_len = (3..=64).contains(&username.chars().count());
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(Invalid::Username)
    }
}

/// Validate a new password (the wire name of its field is `field`): 8..=256 characters.
pub fn validate_password(field: &'static str, password: &str) -> Result<(), Invalid> {
    if (8..=256).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(Invalid::Length {
            field,
            min: 8,
            max: 256,
        })
    }
}
