//! # auth
//!
//! Users, credentials and access tokens.
//!
//! Owns: the [`User`] model, the login use case ([`AuthService::login`]) with its equal-work rule
//! for unknown users and its [`LoginThrottle`] (per username and per client address), and token
//! verification ([`AuthService::authenticate`]).
//!
//! Ports (implemented in the `adapters` crate, mocked with mockall in tests):
//! - [`UserRepository`]: find and create users,
//! - [`PasswordHasher`]: hash and verify passwords (argon2id in production),
//! - [`TokenCodec`]: issue and decode signed tokens (JWT HS256 in production).
//!
//! ```ignore
//! let auth = AuthService::new(users, hasher, tokens, clock, Duration::hours(12));
//! let session = auth.login("alice", "secret", "10.0.0.1").await?;
//! let caller_user = auth.authenticate(&session.access_token).await?;
//! ```

mod service;
mod throttle;

use async_trait::async_trait;
use kernel::{OrgId, RepoError, Role, UserId};
use serde::Serialize;

pub use service::{AuthError, AuthService, LoginError, Session};
pub use throttle::{LoginThrottle, ThrottleLimits};

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
}

/// A user with the stored password hash, for the login check only.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// PHC-format password hash.
    pub password_hash: String,
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
    /// Create a user.
    async fn create(&self, user: NewUser) -> Result<User, CreateUserError>;
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
pub fn validate_username(username: &str) -> Result<(), String> {
    let ok_len = (3..=64).contains(&username.chars().count());
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err("username must be 3 to 64 characters of letters, digits, '.', '_', '-' or '@'".into())
    }
}

/// Validate a new password: 8..=256 characters.
pub fn validate_password(password: &str) -> Result<(), String> {
    if (8..=256).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err("password must be 8 to 256 characters".into())
    }
}
