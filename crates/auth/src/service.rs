//! The login and token-verification use cases.

use std::sync::Arc;

use chrono::Duration;
use kernel::{Clock, RepoError};

use crate::{Claims, LoginThrottle, PasswordHasher, TokenCodec, TokenError, User, UserRepository};

/// A successful login.
#[derive(Debug, Clone)]
pub struct Session {
    /// The signed token.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// Who logged in.
    pub user: User,
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong password (indistinguishable on purpose).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Too many failures for this username or address.
    #[error("too many attempts")]
    TooManyAttempts {
        /// Seconds until a new attempt is allowed.
        retry_after: i64,
    },
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// Anything else (token signing).
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing, malformed, expired, or its user no longer exists.
    #[error("not authenticated")]
    Unauthenticated,
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Login and token verification over the auth ports.
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenCodec>,
    clock: Arc<dyn Clock>,
    throttle: LoginThrottle,
    token_ttl: Duration,
}

impl AuthService {
    /// Wire the service.
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenCodec>,
        clock: Arc<dyn Clock>,
        throttle: LoginThrottle,
        token_ttl: Duration,
    ) -> Self {
        Self {
            users,
            hasher,
            tokens,
            clock,
            throttle,
            token_ttl,
        }
    }

    /// Check a username and password from client address `addr` and issue a token.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        addr: &str,
    ) -> Result<Session, LoginError> {
        let now = self.clock.now();
        if let Some(retry_after) = self.throttle.blocked(username, addr, now) {
            return Err(LoginError::TooManyAttempts { retry_after });
        }
        let creds = self.users.find_credentials(username).await?;
        // same work whether or not the user exists
        let ok = self
            .hasher
            .verify(password, creds.as_ref().map(|c| c.password_hash.clone()))
            .await;
        let user = match (ok, creds) {
            (true, Some(c)) => c.user,
            _ => {
                self.throttle.record_failure(username, addr, now);
                return Err(LoginError::InvalidCredentials);
            }
        };
        self.throttle.record_success(username);
        let claims = Claims {
            user_id: user.id,
            org_id: user.org_id,
            issued_at: now.timestamp(),
            expires_at: (now + self.token_ttl).timestamp(),
        };
        let access_token = self.tokens.issue(&claims)?;
        Ok(Session {
            access_token,
            expires_in: self.token_ttl.num_seconds(),
            user,
        })
    }

    /// Verify a token and load its user. A token whose user is gone, or whose organisation no
    /// longer matches the user's, is refused.
    pub async fn authenticate(&self, token: &str) -> Result<(Claims, User), AuthError> {
        let claims = self
            .tokens
            .decode(token, self.clock.now().timestamp())
            .map_err(|TokenError::Invalid| AuthError::Unauthenticated)?;
        match self.users.find_by_id(claims.user_id).await? {
            Some(user) if user.org_id == claims.org_id => Ok((claims, user)),
            _ => Err(AuthError::Unauthenticated),
        }
    }

    /// Token lifetime.
    pub fn token_ttl(&self) -> Duration {
        self.token_ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        MockPasswordHasher, MockTokenCodec, MockUserRepository, ThrottleLimits, UserCredentials,
    };
    use kernel::{MockClock, Role};

    fn user() -> User {
        User {
            id: 7,
            username: "alice".into(),
            display_name: "Alice".into(),
            role: Role::Operator,
            org_id: 3,
            org_name: "Org".into(),
        }
    }

    fn service(users: MockUserRepository, hasher: MockPasswordHasher) -> AuthService {
        let mut tokens = MockTokenCodec::new();
        tokens
            .expect_issue()
            .returning(|c| Ok(format!("tok-{}", c.user_id)));
        let mut clock = MockClock::new();
        clock.expect_now().returning(chrono::Utc::now);
        AuthService::new(
            Arc::new(users),
            Arc::new(hasher),
            Arc::new(tokens),
            Arc::new(clock),
            LoginThrottle::new(ThrottleLimits::default()),
            Duration::hours(1),
        )
    }

    #[tokio::test]
    async fn unknown_user_does_the_same_hash_work_and_gets_the_same_error() {
        let mut users = MockUserRepository::new();
        users.expect_find_credentials().returning(|_| Ok(None));
        let mut hasher = MockPasswordHasher::new();
        // verify is called even without a hash: equal work
        hasher
            .expect_verify()
            .withf(|_, h| h.is_none())
            .times(1)
            .returning(|_, _| false);
        let svc = service(users, hasher);
        let err = svc.login("nobody", "pw", "1.2.3.4").await.unwrap_err();
        assert!(matches!(err, LoginError::InvalidCredentials));
    }

    #[tokio::test]
    async fn right_password_issues_token_and_sixth_failure_is_throttled() {
        let mut users = MockUserRepository::new();
        users.expect_find_credentials().returning(|_| {
            Ok(Some(UserCredentials {
                user: user(),
                password_hash: "h".into(),
            }))
        });
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|p, _| p == "right");
        let svc = service(users, hasher);
        let s = svc.login("alice", "right", "a").await.unwrap();
        assert_eq!(s.access_token, "tok-7");
        for _ in 0..5 {
            assert!(matches!(
                svc.login("alice", "wrong", "a").await,
                Err(LoginError::InvalidCredentials)
            ));
        }
        // even the right password is refused now
        assert!(matches!(
            svc.login("alice", "right", "a").await,
            Err(LoginError::TooManyAttempts { .. })
        ));
    }

    #[tokio::test]
    async fn token_of_user_moved_to_other_org_is_refused() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().returning(|_| {
            Ok(Some(User {
                org_id: 99,
                ..user()
            }))
        });
        let mut tokens = MockTokenCodec::new();
        tokens.expect_decode().returning(|_, _| {
            Ok(Claims {
                user_id: 7,
                org_id: 3,
                issued_at: 0,
                expires_at: i64::MAX,
            })
        });
        let mut clock = MockClock::new();
        clock.expect_now().returning(chrono::Utc::now);
        let svc = AuthService::new(
            Arc::new(users),
            Arc::new(MockPasswordHasher::new()),
            Arc::new(tokens),
            Arc::new(clock),
            LoginThrottle::new(ThrottleLimits::default()),
            Duration::hours(1),
        );
        assert!(matches!(
            svc.authenticate("t").await,
            Err(AuthError::Unauthenticated)
        ));
    }
}
