//! DTOs of login, tokens and organisations.

use kernel::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Login body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// Login name (1..=128 characters).
    #[schema(
        example = "admin",
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000]*$"
    )]
    pub username: String,
    /// Password (1..=1024 characters).
    #[schema(
        example = "password123",
        min_length = 1,
        max_length = 1024,
        pattern = r"^[^\u0000]*$"
    )]
    pub password: String,
}

/// The contract's `User`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserDto {
    /// User id.
    pub id: i64,
    /// Login name.
    #[schema(example = "admin")]
    pub username: String,
    /// Name shown in the UI.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// The user's organisation.
    pub org_id: i64,
    /// Same as `org_id` (the original system's name).
    pub dcc_user_org_id: i64,
    /// Name of the organisation.
    pub org_name: String,
}

impl From<&auth::User> for UserDto {
    fn from(u: &auth::User) -> Self {
        Self {
            id: u.id.0,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            org_id: u.org_id.0,
            dcc_user_org_id: u.org_id.0,
            org_name: u.org_name.clone(),
        }
    }
}

/// `bearer`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// Always `bearer`.
    Bearer,
}

/// `data` of `POST /api/login`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoginData {
    /// The token for the `access-token` header.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: TokenType,
    /// Seconds until the token expires.
    #[schema(example = 86400)]
    pub expires_in: i64,
    /// Who logged in.
    pub user: UserDto,
    /// Whether the user must change a password an admin reset (`POST /api/me/password`) before
    /// anything else; until then every other endpoint answers 403 `password_change_required`.
    pub password_change_required: bool,
}

impl From<&auth::Session> for LoginData {
    fn from(s: &auth::Session) -> Self {
        Self {
            access_token: s.access_token.clone(),
            token_type: TokenType::Bearer,
            expires_in: s.expires_in,
            user: UserDto::from(&s.user),
            password_change_required: s.user.password_change_required,
        }
    }
}

/// `data` of `GET /api/auth/verify`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifyData {
    /// Always `true` (an invalid token is 401).
    pub valid: bool,
    /// The token's user.
    pub user: UserDto,
    /// When the token expires, `YYYY-MM-DD HH:MM:SS`.
    #[schema(example = "2025-11-02 10:00:00")]
    pub expires_at: String,
    /// Whether the user must change a reset password before anything else.
    pub password_change_required: bool,
}

impl VerifyData {
    /// The answer for a valid token of `user` that expires at `expires_at` (unix seconds).
    pub fn new(user: &auth::User, expires_at: i64, tz: chrono_tz::Tz) -> Self {
        let expires_at = chrono::DateTime::from_timestamp(expires_at, 0)
            .map(|t| kernel::format_time(t, tz))
            .unwrap_or_default();
        Self {
            valid: true,
            user: UserDto::from(user),
            expires_at,
            password_change_required: user.password_change_required,
        }
    }
}

/// An organisation with its descendants.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgNodeDto {
    /// Id (`dcc_user_org_id`).
    pub id: i64,
    /// Name.
    pub name: String,
    /// Parent id, `null` for a root.
    #[schema(required = true)]
    pub parent_id: Option<i64>,
    /// Children, by id.
    #[schema(no_recursion)]
    pub children: Vec<OrgNodeDto>,
}

impl From<org::OrgNode> for OrgNodeDto {
    fn from(n: org::OrgNode) -> Self {
        Self {
            id: n.id.0,
            name: n.name,
            parent_id: n.parent_id.map(|p| p.0),
            children: n.children.into_iter().map(OrgNodeDto::from).collect(),
        }
    }
}

/// `POST /api/organizations` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrgBody {
    /// Name, 1..=100 characters, unique among its siblings.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub name: String,
    /// The parent (of the caller's subtree).
    pub parent_id: i64,
}
