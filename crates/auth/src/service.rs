//! The login and token-verification use cases.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use kernel::{Clock, RepoError, UserId};

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
    users_seen: UserCache,
}

/// Users recently read for a token, for a short time (see [`AuthService::with_user_cache`]).
#[derive(Default)]
struct UserCache {
    ttl: Option<Duration>,
    entries: std::sync::Mutex<std::collections::HashMap<UserId, (DateTime<Utc>, User)>>,
}

/// Most users remembered at once; past it, expired entries go, and if that is not enough, all.
const USER_CACHE_MAX: usize = 10_000;

impl UserCache {
    fn get(&self, id: UserId, now: DateTime<Utc>) -> Option<User> {
        let ttl = self.ttl?;
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&id)
            .filter(|(read_at, _)| now < *read_at + ttl && now >= *read_at)
            .map(|(_, user)| user.clone())
    }

    fn put(&self, user: &User, now: DateTime<Utc>) {
        let Some(ttl) = self.ttl else { return };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= USER_CACHE_MAX {
            entries.retain(|_, (read_at, _)| now < *read_at + ttl);
            if entries.len() >= USER_CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(user.id, (now, user.clone()));
    }
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
            users_seen: UserCache::default(),
        }
    }

    /// Remember the user behind a token for `ttl` after reading it, instead of reading it on every
    /// request: a user deleted or moved to another organisation is then refused within `ttl`
    /// rather than at once. A zero `ttl` reads the user every time. Only found users are
    /// remembered; signature and expiry are checked on every request regardless.
    pub fn with_user_cache(mut self, ttl: Duration) -> Self {
        self.users_seen.ttl = (ttl > Duration::zero()).then_some(ttl);
        self
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
    /// longer matches the user's, is refused (within the user cache's time, if one is set).
    pub async fn authenticate(&self, token: &str) -> Result<(Claims, User), AuthError> {
        let now = self.clock.now();
        let claims = self
            .tokens
            .decode(token, now.timestamp())
            .map_err(|TokenError::Invalid| AuthError::Unauthenticated)?;
        let user = match self.users_seen.get(claims.user_id, now) {
            Some(user) => Some(user),
            None => {
                let found = self.users.find_by_id(claims.user_id).await?;
                if let Some(user) = &found {
                    self.users_seen.put(user, now);
                }
                found
            }
        };
        match user {
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
    use kernel::{MockClock, OrgId, Role};

    fn user() -> User {
        User {
            id: UserId(7),
            username: "alice".into(),
            display_name: "Alice".into(),
            role: Role::Operator,
            org_id: OrgId(3),
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

    /// A codec that accepts any token as user 7 of organisation 3, never expiring.
    fn token_of_user_7_in_org_3() -> MockTokenCodec {
        let mut tokens = MockTokenCodec::new();
        tokens.expect_decode().returning(|_, _| {
            Ok(Claims {
                user_id: UserId(7),
                org_id: OrgId(3),
                issued_at: 0,
                expires_at: i64::MAX,
            })
        });
        tokens
    }

    #[tokio::test]
    async fn token_of_user_moved_to_other_org_is_refused() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().returning(|_| {
            Ok(Some(User {
                org_id: OrgId(99),
                ..user()
            }))
        });
        let tokens = token_of_user_7_in_org_3();
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

    /// A service whose clock is `start + offset` seconds and whose user 7 exists while `exists`.
    fn cached_service(
        ttl: Duration,
        offset: Arc<std::sync::atomic::AtomicI64>,
        exists: Arc<std::sync::atomic::AtomicBool>,
        reads: Arc<std::sync::atomic::AtomicUsize>,
    ) -> AuthService {
        use std::sync::atomic::Ordering::SeqCst;
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().returning(move |_| {
            reads.fetch_add(1, SeqCst);
            Ok(exists.load(SeqCst).then(user))
        });
        let tokens = token_of_user_7_in_org_3();
        let start = chrono::Utc::now();
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(move || start + Duration::seconds(offset.load(SeqCst)));
        AuthService::new(
            Arc::new(users),
            Arc::new(MockPasswordHasher::new()),
            Arc::new(tokens),
            Arc::new(clock),
            LoginThrottle::new(ThrottleLimits::default()),
            Duration::hours(1),
        )
        .with_user_cache(ttl)
    }

    #[tokio::test]
    async fn a_cached_user_is_read_again_after_the_cache_time_and_a_deleted_one_refused() {
        use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering::SeqCst};
        let (offset, exists, reads) = (
            Arc::new(AtomicI64::new(0)),
            Arc::new(AtomicBool::new(true)),
            Arc::new(AtomicUsize::new(0)),
        );
        let svc = cached_service(
            Duration::seconds(2),
            offset.clone(),
            exists.clone(),
            reads.clone(),
        );
        for _ in 0..3 {
            assert_eq!(svc.authenticate("t").await.unwrap().1.id, UserId(7));
        }
        assert_eq!(reads.load(SeqCst), 1, "read once within the cache time");
        exists.store(false, SeqCst);
        offset.store(1, SeqCst);
        assert!(svc.authenticate("t").await.is_ok(), "still within 2 s");
        offset.store(2, SeqCst);
        assert!(matches!(
            svc.authenticate("t").await,
            Err(AuthError::Unauthenticated)
        ));
        // a missing user is never remembered: every request reads again
        assert!(svc.authenticate("t").await.is_err());
        assert_eq!(reads.load(SeqCst), 3);
        // a clock that went back does not stretch an entry's life
        exists.store(true, SeqCst);
        offset.store(10, SeqCst);
        assert!(svc.authenticate("t").await.is_ok());
        offset.store(5, SeqCst);
        assert!(svc.authenticate("t").await.is_ok());
        assert_eq!(reads.load(SeqCst), 5);
    }

    #[tokio::test]
    async fn without_a_user_cache_every_request_reads_the_user() {
        use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering::SeqCst};
        let reads = Arc::new(AtomicUsize::new(0));
        let svc = cached_service(
            Duration::zero(),
            Arc::new(AtomicI64::new(0)),
            Arc::new(AtomicBool::new(true)),
            reads.clone(),
        );
        for _ in 0..3 {
            svc.authenticate("t").await.unwrap();
        }
        assert_eq!(reads.load(SeqCst), 3);
    }
}
