//! DTOs of accounts: users as admins manage them, password changes, logout.

use kernel::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /api/users` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UserListQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    pub page: Option<i64>,
    /// Items per page, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub page_size: Option<i64>,
    /// Users of this organisation only (of the caller's subtree; another is 404).
    pub org_id: Option<i64>,
    /// Part of the username or display name, case ignored (up to 100 characters).
    #[param(max_length = 100, pattern = r"^[^\u0000]*$")]
    pub keyword: Option<String>,
    /// This role only.
    #[param(inline)]
    pub role: Option<Role>,
    /// Enabled (`true`) or disabled (`false`) users only.
    pub enabled: Option<bool>,
}

/// A user as admins see them: the contract's `User` with the account's state.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountDto {
    /// User id.
    pub id: i64,
    /// Login name.
    #[schema(example = "operator1")]
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
    /// Whether the user may log in.
    pub enabled: bool,
    /// Whether the user must change a password an admin reset before anything else.
    pub password_change_required: bool,
    /// When the user was created, `YYYY-MM-DD HH:MM:SS`.
    #[schema(example = "2025-11-02 10:00:00")]
    pub create_time: String,
}

impl AccountDto {
    /// The DTO of `u`, times in `tz`.
    pub fn new(u: &auth::User, tz: chrono_tz::Tz) -> Self {
        Self {
            id: u.id.0,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            org_id: u.org_id.0,
            dcc_user_org_id: u.org_id.0,
            org_name: u.org_name.clone(),
            enabled: u.enabled,
            password_change_required: u.password_change_required,
            create_time: kernel::format_time(u.created_at, tz),
        }
    }
}

/// `POST /api/users` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// Organisation (of the caller's subtree).
    pub org_id: i64,
    /// Login name: 3..=64 letters, digits, `.`, `_`, `-`, `@`; unique.
    #[schema(
        example = "operator1",
        min_length = 3,
        max_length = 64,
        pattern = r"^[A-Za-z0-9._@-]+$"
    )]
    pub username: String,
    /// Name shown (default: the username), 1..=64 characters.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub display_name: Option<String>,
    /// Role.
    pub role: Role,
    /// Initial password, 8..=256 characters.
    #[schema(min_length = 8, max_length = 256, pattern = r"^[^\u0000]*$")]
    pub password: String,
}

/// `POST /api/users/update` body: what is given changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserBody {
    /// The user.
    pub user_id: i64,
    /// New display name, 1..=64 characters.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub display_name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New organisation (of the caller's subtree).
    pub org_id: Option<i64>,
}

/// Body naming one user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIdBody {
    /// The user.
    pub user_id: i64,
}

/// `data` of `POST /api/users/reset-password`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResetPasswordData {
    /// The user, who must change the password at next login.
    pub user: AccountDto,
    /// The temporary password, shown this once and never again.
    #[schema(example = "Kq7mXwR2pTz9Hc")]
    pub temporary_password: String,
}

/// `POST /api/me/password` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    /// The current password.
    #[schema(min_length = 1, max_length = 1024, pattern = r"^[^\u0000]*$")]
    pub current_password: String,
    /// The new password, 8..=256 characters, not the current one.
    #[schema(min_length = 8, max_length = 256, pattern = r"^[^\u0000]*$")]
    pub new_password: String,
}

/// `data` of `POST /api/logout`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogoutData {
    /// Always `true`: the token is refused from now on.
    pub logged_out: bool,
}
