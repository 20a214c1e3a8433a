//! The login and token-verification use cases, and what ends a token early: logout and a
//! password change.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use kernel::{Clock, Invalid, OrgId, RepoError, UserId};

use crate::cache::UserCache;
use crate::{
    Claims, LoginThrottle, PasswordHasher, TokenCodec, TokenError, TokenState, User,
    UserRepository, validate_password,
};

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
    /// The right password of a disabled account (said only to who knows the password).
    #[error("account disabled")]
    Disabled,
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
    /// Missing, malformed, expired, logged out, issued before a password change, or its user is
    /// gone, disabled or moved.
    #[error("not authenticated")]
    Unauthenticated,
    /// A good token of a user who must change a reset password first.
    #[error("password change required")]
    PasswordChangeRequired,
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Why a password was not changed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// The current password given is wrong.
    #[error("wrong current password")]
    WrongPassword,
    /// The new password breaks the rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The new password is the current one.
    #[error("the new password is the current one")]
    Unchanged,
    /// Too many wrong passwords for this username or address (the login's throttle).
    #[error("too many attempts")]
    TooManyAttempts {
        /// Seconds until a new attempt is allowed.
        retry_after: i64,
    },
    /// The user is gone.
    #[error("not authenticated")]
    Unauthenticated,
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// Anything else (hashing, token signing).
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Login and token verification over the auth ports.
pub struct AuthService {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenCodec>,
    clock: Arc<dyn Clock>,
    throttle: LoginThrottle,
    token_ttl: Duration,
    users_seen: UserCache,
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
    /// request: a change made by another instance (a user deleted, moved, disabled, a password
    /// changed, a token logged out there) is then seen within `ttl` rather than at once; this
    /// process's own changes are seen at once. A zero `ttl` reads the user every time. Only found
    /// users are remembered; signature and expiry are checked on every request regardless.
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
        let check = self.throttle.check(username, addr, now).await?;
        if let Some(retry_after) = check.retry_after {
            return Err(LoginError::TooManyAttempts { retry_after });
        }
        let creds = self.users.find_credentials(username).await?;
        // same work whether or not the user exists
        let ok = self
            .hasher
            .verify(password, creds.as_ref().map(|c| c.password_hash.clone()))
            .await;
        let creds = match (ok, creds) {
            (true, Some(c)) => c,
            _ => {
                self.throttle.record_failure(username, addr, now).await?;
                return Err(LoginError::InvalidCredentials);
            }
        };
        self.throttle.record_success(username, &check).await?;
        if !creds.user.enabled {
            return Err(LoginError::Disabled);
        }
        Ok(self.issue(creds.user, creds.token_version, now)?)
    }

    /// The account a username names, if one: who a refused login was about (for the trail).
    pub async fn account_of(&self, username: &str) -> Option<(UserId, OrgId)> {
        let creds = self.users.find_credentials(username).await.ok()??;
        Some((creds.user.id, creds.user.org_id))
    }

    /// A new token of `user` under credential version `version`.
    fn issue(&self, user: User, version: i32, now: DateTime<Utc>) -> anyhow::Result<Session> {
        let claims = Claims {
            token_id: uuid::Uuid::new_v4().simple().to_string(),
            version,
            user_id: user.id,
            org_id: user.org_id,
            issued_at: now.timestamp(),
            expires_at: (now + self.token_ttl).timestamp(),
        };
        Ok(Session {
            access_token: self.tokens.issue(&claims)?,
            expires_in: self.token_ttl.num_seconds(),
            user,
        })
    }

    async fn token_state(
        &self,
        id: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenState>, RepoError> {
        if let Some(state) = self.users_seen.get(id, now) {
            return Ok(Some(state));
        }
        let found = self.users.find_token_state(id).await?;
        if let Some(state) = &found {
            self.users_seen.put(state, now);
        }
        Ok(found)
    }

    /// Verify a token and load its user, who must not have a password change pending. See
    /// [`AuthService::authenticate_pending`] for what refuses a token.
    pub async fn authenticate(&self, token: &str) -> Result<(Claims, User), AuthError> {
        let (claims, user) = self.authenticate_pending(token).await?;
        if user.password_change_required {
            return Err(AuthError::PasswordChangeRequired);
        }
        Ok((claims, user))
    }

    /// Verify a token and load its user, with or without a password change pending (for the
    /// few things such a user may do: change it, log out, see who they are). A token is refused
    /// when its user is gone, disabled or in another organisation than the token says, when it
    /// was issued before the user's last password change, or when it was logged out (within the
    /// user cache's time for changes made by another instance).
    pub async fn authenticate_pending(&self, token: &str) -> Result<(Claims, User), AuthError> {
        let now = self.clock.now();
        let claims = self
            .tokens
            .decode(token, now.timestamp())
            .map_err(|TokenError::Invalid| AuthError::Unauthenticated)?;
        match self.token_state(claims.user_id, now).await? {
            Some(s)
                if s.user.org_id == claims.org_id
                    && s.user.enabled
                    && s.token_version == claims.version
                    && !s.revoked.contains(&claims.token_id) =>
            {
                Ok((claims, s.user))
            }
            _ => Err(AuthError::Unauthenticated),
        }
    }

    /// End the token of `claims`: refused from now on (on other instances within the user
    /// cache's time).
    pub async fn logout(&self, claims: &Claims) -> Result<(), RepoError> {
        let expires_at = DateTime::from_timestamp(claims.expires_at, 0)
            .unwrap_or_else(|| self.clock.now() + self.token_ttl);
        self.users
            .revoke_token(claims.user_id, &claims.token_id, expires_at)
            .await?;
        self.users_seen.forget(claims.user_id);
        Ok(())
    }

    /// Change `user`'s password from `current` to `new`, asked from `origin`. Wrong
    /// current passwords count against the login's throttle of the username. Every token issued
    /// before is refused from then on; the answer is a fresh session.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
        origin: &kernel::Origin,
    ) -> Result<Session, PasswordChangeError> {
        let addr = origin.client_addr.as_deref().unwrap_or("unknown");
        let now = self.clock.now();
        let check = self.throttle.check(&user.username, addr, now).await?;
        if let Some(retry_after) = check.retry_after {
            return Err(PasswordChangeError::TooManyAttempts { retry_after });
        }
        validate_password("new_password", new)?;
        let creds = self
            .users
            .find_credentials(&user.username)
            .await?
            .filter(|c| c.user.id == user.id)
            .ok_or(PasswordChangeError::Unauthenticated)?;
        if !self.hasher.verify(current, Some(creds.password_hash)).await {
            self.throttle
                .record_failure(&user.username, addr, now)
                .await?;
            return Err(PasswordChangeError::WrongPassword);
        }
        self.throttle.record_success(&user.username, &check).await?;
        if current == new {
            return Err(PasswordChangeError::Unchanged);
        }
        let hash = self.hasher.hash(new).await?;
        let audit = audit::Entry {
            actor: audit::Actor {
                user_id: Some(user.id),
                name: user.username.clone(),
            },
            org_id: Some(user.org_id),
            action: audit::Action::PasswordChange,
            target: Some(audit::Target::User(user.id)),
            outcome: audit::Outcome::Ok,
            origin: origin.clone(),
            details: Default::default(),
        };
        let version = self
            .users
            .set_password(user.id, &hash, false, audit)
            .await?
            .ok_or(PasswordChangeError::Unauthenticated)?;
        self.users_seen.forget(user.id);
        let user = User {
            password_change_required: false,
            ..creds.user
        };
        Ok(self.issue(user, version, now)?)
    }

    /// Forget what is remembered of a user (after a change to them made in this process).
    pub fn forget(&self, id: UserId) {
        self.users_seen.forget(id);
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
            enabled: true,
            password_change_required: false,
            created_at: chrono::Utc::now(),
        }
    }

    fn state(user: User) -> TokenState {
        TokenState {
            user,
            token_version: 0,
            revoked: vec!["gone".into()],
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

    /// A service whose user 7 is `state` and whose codec accepts any token with `claims`.
    fn service_of(state: TokenState, claims: Claims) -> AuthService {
        let mut users = MockUserRepository::new();
        users
            .expect_find_token_state()
            .returning(move |_| Ok(Some(state.clone())));
        let mut tokens = MockTokenCodec::new();
        tokens
            .expect_decode()
            .returning(move |_, _| Ok(claims.clone()));
        let mut clock = MockClock::new();
        clock.expect_now().returning(chrono::Utc::now);
        AuthService::new(
            Arc::new(users),
            Arc::new(MockPasswordHasher::new()),
            Arc::new(tokens),
            Arc::new(clock),
            LoginThrottle::new(ThrottleLimits::default()),
            Duration::hours(1),
        )
    }

    fn claims(token_id: &str, version: i32) -> Claims {
        Claims {
            token_id: token_id.into(),
            version,
            user_id: UserId(7),
            org_id: OrgId(3),
            issued_at: 0,
            expires_at: i64::MAX,
        }
    }

    #[tokio::test]
    async fn a_token_is_refused_when_logged_out_issued_before_a_password_change_or_its_user_disabled()
     {
        let good = service_of(state(user()), claims("t1", 0));
        assert!(good.authenticate("t").await.is_ok());
        let logged_out = service_of(state(user()), claims("gone", 0));
        let old_version = service_of(state(user()), claims("t1", 1));
        let disabled = service_of(
            state(User {
                enabled: false,
                ..user()
            }),
            claims("t1", 0),
        );
        for svc in [logged_out, old_version, disabled] {
            assert!(matches!(
                svc.authenticate("t").await,
                Err(AuthError::Unauthenticated)
            ));
        }
    }

    #[tokio::test]
    async fn a_user_with_a_reset_password_may_only_use_the_pending_check() {
        let pending = User {
            password_change_required: true,
            ..user()
        };
        let svc = service_of(state(pending), claims("t1", 0));
        assert!(matches!(
            svc.authenticate("t").await,
            Err(AuthError::PasswordChangeRequired)
        ));
        assert!(svc.authenticate_pending("t").await.is_ok());
    }

    #[tokio::test]
    async fn a_disabled_user_is_told_so_only_with_the_right_password() {
        let mut users = MockUserRepository::new();
        users.expect_find_credentials().returning(|_| {
            Ok(Some(UserCredentials {
                user: User {
                    enabled: false,
                    ..user()
                },
                password_hash: "h".into(),
                token_version: 0,
            }))
        });
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|p, _| p == "right");
        let svc = service(users, hasher);
        assert!(matches!(
            svc.login("alice", "wrong", "a").await,
            Err(LoginError::InvalidCredentials)
        ));
        assert!(matches!(
            svc.login("alice", "right", "a").await,
            Err(LoginError::Disabled)
        ));
    }

    #[tokio::test]
    async fn wrong_current_passwords_are_throttled_and_a_change_issues_a_token_of_the_new_version()
    {
        let mut users = MockUserRepository::new();
        users.expect_find_credentials().returning(|_| {
            Ok(Some(UserCredentials {
                user: user(),
                password_hash: "h".into(),
                token_version: 4,
            }))
        });
        users
            .expect_set_password()
            .withf(|id, hash, must_change, audit| {
                *id == UserId(7)
                    && hash == "hashed"
                    && !must_change
                    && audit.action == audit::Action::PasswordChange
                    && audit.origin.client_addr.as_deref() == Some("a")
            })
            .times(1)
            .returning(|_, _, _, _| Ok(Some(5)));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|p, _| p == "current-pw");
        hasher.expect_hash().returning(|_| Ok("hashed".to_owned()));
        let mut tokens = MockTokenCodec::new();
        tokens
            .expect_issue()
            .returning(|c| Ok(format!("tok-v{}", c.version)));
        let mut clock = MockClock::new();
        clock.expect_now().returning(chrono::Utc::now);
        let svc = AuthService::new(
            Arc::new(users),
            Arc::new(hasher),
            Arc::new(tokens),
            Arc::new(clock),
            LoginThrottle::new(ThrottleLimits::default()),
            Duration::hours(1),
        );
        let from = kernel::Origin {
            request_id: None,
            client_addr: Some("a".into()),
        };
        assert!(matches!(
            svc.change_password(&user(), "current-pw", "short", &from)
                .await,
            Err(PasswordChangeError::Invalid(_))
        ));
        let s = svc
            .change_password(&user(), "current-pw", "a-new-password", &from)
            .await
            .unwrap();
        assert_eq!(s.access_token, "tok-v5");
        for _ in 0..5 {
            assert!(matches!(
                svc.change_password(&user(), "guess", "a-new-password", &from)
                    .await,
                Err(PasswordChangeError::WrongPassword)
            ));
        }
        assert!(matches!(
            svc.change_password(&user(), "current-pw", "a-new-password", &from)
                .await,
            Err(PasswordChangeError::TooManyAttempts { .. })
        ));
    }

    #[tokio::test]
    async fn right_password_issues_token_and_sixth_failure_is_throttled() {
        let mut users = MockUserRepository::new();
        users.expect_find_credentials().returning(|_| {
            Ok(Some(UserCredentials {
                user: user(),
                password_hash: "h".into(),
                token_version: 0,
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
                token_id: "t1".into(),
                version: 0,
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
        users.expect_find_token_state().returning(|_| {
            Ok(Some(state(User {
                org_id: OrgId(99),
                ..user()
            })))
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
        users.expect_find_token_state().returning(move |_| {
            reads.fetch_add(1, SeqCst);
            Ok(exists.load(SeqCst).then(|| state(user())))
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
