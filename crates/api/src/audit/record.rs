//! What the HTTP adapters write to the audit trail themselves: logins (no transaction of their
//! own), and refusals (the action did not happen, so no transaction wrote an entry). The API
//! and the console call the same functions, with the code the caller got.

use audit::{Action, Actor, Entry, Outcome, Target};
use auth::Session;
use kernel::{Caller, Origin};

use crate::error::ApiError;
use crate::state::ApiState;

/// A login as `username` from `origin`: done or refused (with the code), recorded in the
/// organisation of the account the name belongs to. A refused name that belongs to nobody is
/// kept in no organisation's trail (no tenant may read another's failed logins).
pub async fn login(
    state: &ApiState,
    origin: &Origin,
    username: &str,
    result: &Result<Session, ApiError>,
) {
    let (actor, org_id, outcome) = match result {
        Ok(session) => (
            Actor {
                user_id: Some(session.user.id),
                name: session.user.username.clone(),
            },
            Some(session.user.org_id),
            Outcome::Ok,
        ),
        Err(e) => {
            let account = state.auth.account_of(username).await;
            (
                Actor {
                    user_id: account.map(|(user, _)| user),
                    name: username.chars().take(128).collect(),
                },
                account.map(|(_, org)| org),
                Outcome::Refused(e.code.as_str().to_owned()),
            )
        }
    };
    let entry = Entry {
        actor,
        org_id,
        action: Action::Login,
        target: None,
        outcome,
        origin: origin.clone(),
        details: serde_json::Value::Null,
    };
    state.audit.record(&entry).await;
}

/// `action` by `caller` on `target`, refused with `error` (when it is an error): the answer is
/// passed through.
pub async fn refusal<T>(
    state: &ApiState,
    caller: &Caller,
    (action, target): (Action, Option<Target>),
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    if let Err(e) = &result {
        refused(state, caller, (action, target), e).await;
    }
    result
}

/// `action` by `caller` on `target` was refused with `error`: recorded (for adapters that
/// render the refusal themselves, such as the console's forms).
pub async fn refused(
    state: &ApiState,
    caller: &Caller,
    (action, target): (Action, Option<Target>),
    error: &ApiError,
) {
    let mut entry = Entry::by(caller, action).refused(error.code.as_str());
    entry.target = target;
    state.audit.record(&entry).await;
}

/// Start (`on`) or stop this instance's monitor, as `caller` (an admin), and record it.
pub async fn switch_monitor(state: &ApiState, caller: &Caller, on: bool) {
    state.background.set_monitor_running(on);
    let action = if on {
        Action::MonitorStart
    } else {
        Action::MonitorStop
    };
    state.audit.record(&Entry::by(caller, action)).await;
}

/// `caller` logged out (the token is refused from then on): recorded once the logout is done.
pub async fn logged_out(state: &ApiState, caller: &Caller) {
    state.audit.record(&Entry::by(caller, Action::Logout)).await;
}
