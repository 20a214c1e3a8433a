//! One entry of the trail, as an action makes it.

use kernel::{Caller, OrgId, Origin, TaskId, UserId};
use serde_json::Value;

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Logged in (or tried to).
    Login,
    /// Logged out.
    Logout,
    /// Changed one's own password.
    PasswordChange,
    /// Imported leads.
    LeadImport,
    /// Created a call task.
    TaskCreate,
    /// Set a task's script.
    TaskScript,
    /// Started a task.
    TaskStart,
    /// Suspended a task.
    TaskSuspend,
    /// Resumed a task.
    TaskResume,
    /// Stopped a task.
    TaskStop,
    /// Downloaded a task's results.
    Export,
    /// Started the monitor.
    MonitorStart,
    /// Stopped the monitor.
    MonitorStop,
    /// Registered a webhook endpoint.
    WebhookCreate,
    /// Changed an endpoint.
    WebhookUpdate,
    /// Deleted an endpoint.
    WebhookDelete,
    /// Rotated an endpoint's secret.
    WebhookRotateSecret,
    /// Sent an endpoint a ping.
    WebhookTest,
    /// Retried a delivery by hand.
    DeliveryRetry,
    /// Created an organisation.
    OrgCreate,
    /// Created a user.
    UserCreate,
    /// Changed a user.
    UserUpdate,
    /// Disabled a user.
    UserDisable,
    /// Enabled a user.
    UserEnable,
    /// Reset a user's password.
    UserResetPassword,
}

impl Action {
    /// Every action, in the order of the list above.
    pub const ALL: [Action; 25] = [
        Action::Login,
        Action::Logout,
        Action::PasswordChange,
        Action::LeadImport,
        Action::TaskCreate,
        Action::TaskScript,
        Action::TaskStart,
        Action::TaskSuspend,
        Action::TaskResume,
        Action::TaskStop,
        Action::Export,
        Action::MonitorStart,
        Action::MonitorStop,
        Action::WebhookCreate,
        Action::WebhookUpdate,
        Action::WebhookDelete,
        Action::WebhookRotateSecret,
        Action::WebhookTest,
        Action::DeliveryRetry,
        Action::OrgCreate,
        Action::UserCreate,
        Action::UserUpdate,
        Action::UserDisable,
        Action::UserEnable,
        Action::UserResetPassword,
    ];

    /// The stored and wire name (`task.start`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Login => "auth.login",
            Action::Logout => "auth.logout",
            Action::PasswordChange => "auth.password_change",
            Action::LeadImport => "leads.import",
            Action::TaskCreate => "task.create",
            Action::TaskScript => "task.script",
            Action::TaskStart => "task.start",
            Action::TaskSuspend => "task.suspend",
            Action::TaskResume => "task.resume",
            Action::TaskStop => "task.stop",
            Action::Export => "task.export",
            Action::MonitorStart => "monitor.start",
            Action::MonitorStop => "monitor.stop",
            Action::WebhookCreate => "webhook.create",
            Action::WebhookUpdate => "webhook.update",
            Action::WebhookDelete => "webhook.delete",
            Action::WebhookRotateSecret => "webhook.rotate_secret",
            Action::WebhookTest => "webhook.test",
            Action::DeliveryRetry => "webhook.delivery_retry",
            Action::OrgCreate => "org.create",
            Action::UserCreate => "user.create",
            Action::UserUpdate => "user.update",
            Action::UserDisable => "user.disable",
            Action::UserEnable => "user.enable",
            Action::UserResetPassword => "user.reset_password",
        }
    }

    /// The action of a stored name.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user, when one is known (not for the CLI, nor a login with an unknown name).
    pub user_id: Option<UserId>,
    /// Their username, `cli`, or the name a failed login gave.
    pub name: String,
}

impl Actor {
    /// A command of the `outbound` CLI (whoever runs it on the server).
    pub fn cli() -> Self {
        Self {
            user_id: None,
            name: "cli".into(),
        }
    }
}

/// What an action was done to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A call task.
    Task(TaskId),
    /// A user.
    User(UserId),
    /// An organisation.
    Org(OrgId),
    /// A webhook endpoint.
    Webhook(i64),
    /// A webhook delivery.
    Delivery(i64),
}

impl Target {
    /// Its kind and id, as stored.
    pub fn parts(self) -> (&'static str, i64) {
        match self {
            Target::Task(id) => ("task", id.0),
            Target::User(id) => ("user", id.0),
            Target::Org(id) => ("org", id.0),
            Target::Webhook(id) => ("webhook", id),
            Target::Delivery(id) => ("delivery", id),
        }
    }
}

/// Done, or refused with the error code the caller got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused (`invalid_task_state`, `forbidden`, ...).
    Refused(String),
}

impl Outcome {
    /// `ok`, or the code.
    pub fn as_str(&self) -> &str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused(code) => code,
        }
    }
}

/// One entry, as an action makes it (the time is the database's, at commit).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Who.
    pub actor: Actor,
    /// In which organisation (the actor's, or the one acted on).
    pub org_id: Option<OrgId>,
    /// What.
    pub action: Action,
    /// On what.
    pub target: Option<Target>,
    /// Done or refused.
    pub outcome: Outcome,
    /// Where the request came from.
    pub origin: Origin,
    /// More about it (counts, names, flags); never a secret or a whole phone number.
    pub details: Value,
}

impl Entry {
    /// `action` by `caller` (a user, or the CLI), done, in their organisation.
    pub fn by(caller: &Caller, action: Action) -> Self {
        Self {
            actor: if caller.is_cli() {
                Actor::cli()
            } else {
                Actor {
                    user_id: Some(caller.user_id),
                    name: caller.username.clone(),
                }
            },
            org_id: Some(caller.org_id),
            action,
            target: None,
            outcome: Outcome::Ok,
            origin: caller.origin.clone(),
            details: Value::Null,
        }
    }

    /// `action` by the CLI in organisation `org`.
    pub fn cli(action: Action, org: Option<OrgId>) -> Self {
        Self {
            actor: Actor::cli(),
            org_id: org,
            action,
            target: None,
            outcome: Outcome::Ok,
            origin: Origin::default(),
            details: Value::Null,
        }
    }

    /// Done to `target`.
    pub fn on(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// With `details`.
    pub fn with(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// With `key` set to `value` in its details (an object, made so if they were empty).
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        if !self.details.is_object() {
            self.details = Value::Object(serde_json::Map::new());
        }
        if let Some(map) = self.details.as_object_mut() {
            map.insert(key.to_owned(), value.into());
        }
        self
    }

    /// The same action, refused with `code`.
    pub fn refused(mut self, code: &str) -> Self {
        self.outcome = Outcome::Refused(code.to_owned());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_its_own_name_and_reads_back() {
        let names: std::collections::BTreeSet<&str> =
            Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), Action::ALL.len());
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("task.delete"), None);
    }
}
