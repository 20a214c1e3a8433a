//! Accounts: admins manage the users of their organisation subtree; everyone changes their own
//! password and logs out.

pub mod dto;

use actix_web::{HttpResponse, web};
use audit::{Action, Target};
use auth::accounts::NewAccount;
use auth::{UserChange, UserFilter};
use kernel::{OrgId, PageRequest, UserId};

use crate::audit::record::refusal;
use crate::auth::dto::LoginData;
use crate::envelope::{Envelope, Paged, ok};
use crate::error::ApiError;
use crate::extract::{Auth, Json, NoQuery, PendingAuth, Query};
use crate::responses::{
    AccountConflict, BadPasswordChange, BadRequest, DatabaseUnavailable, Forbidden, NotFound,
    PayloadTooLarge, TooManyAttempts, Unauthorized, UsernameTaken,
};
use crate::state::ApiState;
use dto::{
    AccountDto, ChangePasswordBody, LogoutData, NewUserBody, ResetPasswordData, UpdateUserBody,
    UserIdBody, UserListQuery,
};

/// List the users of the caller's organisation subtree (admins; paged, by id).
#[utoipa::path(
    get,
    path = "/api/users",
    params(UserListQuery),
    operation_id = "users",
    tag = "accounts",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "A page of users.", body = Envelope<Paged<AccountDto>>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn list(
    state: web::Data<ApiState>,
    auth: Auth,
    q: Query<UserListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = PageRequest::new(q.page, q.page_size)?;
    let filter = UserFilter {
        org_id: q.org_id.map(OrgId),
        keyword: q.keyword,
        role: q.role,
        enabled: q.enabled,
    };
    let page = state.accounts.list(&auth.caller, filter, page).await?;
    let tz = state.tz;
    Ok(ok(
        "获取用户列表成功",
        Paged::of(page, |u| AccountDto::new(&u, tz)),
    ))
}

/// Create a user in an organisation of the caller's subtree (admins).
#[utoipa::path(
    post,
    path = "/api/users",
    request_body = NewUserBody,
    operation_id = "create_user",
    tag = "accounts",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The new user.", body = Envelope<AccountDto>,
            links(
                ("UpdateUser" = (operation_id = "update_user", request_body = json!({"user_id": "$response.body#/data/id"}), description = "The new user.")),
                ("DisableUser" = (operation_id = "disable_user", request_body = json!({"user_id": "$response.body#/data/id"}), description = "The new user.")),
                ("EnableUser" = (operation_id = "enable_user", request_body = json!({"user_id": "$response.body#/data/id"}), description = "The new user.")),
                ("ResetPassword" = (operation_id = "reset_password", request_body = json!({"user_id": "$response.body#/data/id"}), description = "The new user."))
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = UsernameTaken),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn create(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
    body: Json<NewUserBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let new = NewAccount {
        org_id: OrgId(b.org_id),
        username: b.username,
        display_name: b.display_name,
        role: b.role,
        password: b.password,
    };
    let user = state
        .accounts
        .create(&auth.caller, new)
        .await
        .map_err(ApiError::from);
    let user = refusal(&state, &auth.caller, (Action::UserCreate, None), user).await?;
    Ok(ok("创建用户成功", AccountDto::new(&user, state.tz)))
}

/// Change a user's display name, role or organisation (admins; not their own role or
/// organisation; an organisation keeps an enabled admin).
#[utoipa::path(
    post,
    path = "/api/users/update",
    request_body = UpdateUserBody,
    operation_id = "update_user",
    tag = "accounts",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The user as changed.", body = Envelope<AccountDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = AccountConflict),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn update(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
    body: Json<UpdateUserBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let change = UserChange {
        display_name: b.display_name,
        role: b.role,
        org_id: b.org_id.map(OrgId),
        enabled: None,
    };
    let id = UserId(b.user_id);
    let user = state
        .accounts
        .update(&auth.caller, id, change)
        .await
        .map_err(ApiError::from);
    let what = (Action::UserUpdate, Some(Target::User(id)));
    let user = refusal(&state, &auth.caller, what, user).await?;
    Ok(ok("修改用户成功", AccountDto::new(&user, state.tz)))
}

/// Disable a user (admins): they cannot log in, and their tokens are refused (on other
/// instances within `AUTH_CACHE_MS`). Not one's own account; an organisation keeps an enabled
/// admin.
#[utoipa::path(
    post,
    path = "/api/users/disable",
    request_body = UserIdBody,
    operation_id = "disable_user",
    tag = "accounts",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The user, disabled.", body = Envelope<AccountDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = AccountConflict),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn disable(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
    body: Json<UserIdBody>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(body.user_id);
    let user = state
        .accounts
        .set_enabled(&auth.caller, id, false)
        .await
        .map_err(ApiError::from);
    let what = (Action::UserDisable, Some(Target::User(id)));
    let user = refusal(&state, &auth.caller, what, user).await?;
    Ok(ok("已停用用户", AccountDto::new(&user, state.tz)))
}

/// Enable a disabled user again (admins).
#[utoipa::path(
    post,
    path = "/api/users/enable",
    request_body = UserIdBody,
    operation_id = "enable_user",
    tag = "accounts",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The user, enabled.", body = Envelope<AccountDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = AccountConflict),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn enable(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
    body: Json<UserIdBody>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(body.user_id);
    let user = state
        .accounts
        .set_enabled(&auth.caller, id, true)
        .await
        .map_err(ApiError::from);
    let what = (Action::UserEnable, Some(Target::User(id)));
    let user = refusal(&state, &auth.caller, what, user).await?;
    Ok(ok("已启用用户", AccountDto::new(&user, state.tz)))
}

/// Give a user a temporary password, answered this once (admins; not their own). Their tokens
/// are refused from then on; after logging in with it they must change it before anything else.
#[utoipa::path(
    post,
    path = "/api/users/reset-password",
    request_body = UserIdBody,
    operation_id = "reset_password",
    tag = "accounts",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The temporary password.", body = Envelope<ResetPasswordData>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = AccountConflict),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn reset_password(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
    body: Json<UserIdBody>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(body.user_id);
    let reset = state
        .accounts
        .reset_password(&auth.caller, id)
        .await
        .map_err(ApiError::from);
    let what = (Action::UserResetPassword, Some(Target::User(id)));
    let (user, temporary_password) = refusal(&state, &auth.caller, what, reset).await?;
    tracing::info!(user_id = user.id.0, by = auth.user.id.0, "password reset");
    Ok(ok(
        "已重置密码",
        ResetPasswordData {
            user: AccountDto::new(&user, state.tz),
            temporary_password,
        },
    ))
}

/// Change one's own password (any user, also one who must change a reset password). Wrong
/// current passwords count against the login's throttle. Every token issued before is refused
/// from then on; the answer carries a fresh one.
#[utoipa::path(
    post,
    path = "/api/me/password",
    request_body = ChangePasswordBody,
    operation_id = "change_password",
    tag = "accounts",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "Changed; a fresh token.", body = Envelope<LoginData>),
        (status = 400, response = BadPasswordChange),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyAttempts),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn change_password(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    PendingAuth(auth): PendingAuth,
    body: Json<ChangePasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    if !(1..=1024).contains(&b.current_password.chars().count()) {
        return Err(ApiError::bad_request(
            "请求参数无效: current_password 须为 1 到 1024 个字符",
        ));
    }
    let session = state
        .auth
        .change_password(
            &auth.user,
            &b.current_password,
            &b.new_password,
            &auth.caller.origin,
        )
        .await
        .map_err(ApiError::from);
    let what = (Action::PasswordChange, Some(Target::User(auth.user.id)));
    let session = refusal(&state, &auth.caller, what, session).await?;
    Ok(ok("密码已修改", LoginData::from(&session)))
}

/// Log out: the token of this request is refused from then on (on other instances within
/// `AUTH_CACHE_MS`).
#[utoipa::path(
    post,
    path = "/api/logout",
    operation_id = "logout",
    tag = "accounts",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "Logged out.", body = Envelope<LogoutData>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn logout(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    PendingAuth(auth): PendingAuth,
) -> Result<HttpResponse, ApiError> {
    state.auth.logout(&auth.claims).await?;
    crate::audit::record::logged_out(&state, &auth.caller).await;
    Ok(ok("已退出登录", LogoutData { logged_out: true }))
}
