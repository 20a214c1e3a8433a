//! The admins' use cases: register, list, change, delete an endpoint, rotate its secret, send it
//! a ping, see its deliveries and retry one. Endpoints belong to the admin's organisation and
//! receive the events of its subtree; another organisation's are not found.

use std::sync::Arc;

use chrono::Duration;
use kernel::{
    Caller, Clock, DeliveryId, Entity, Invalid, Page, PageRequest, RepoError, Role, WebhookId,
};

use audit::{Action, Entry, Target};

use crate::events::{Event, EventType, Ping};
use crate::target::{AllowHosts, check_url};
use crate::{Delivery, DeliveryStatus, Sender, Webhook, WebhookRepository, sign};

/// How long the previous secret still signs after a rotation.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;
/// Longest description, in characters.
const DESCRIPTION_MAX: usize = 500;

/// An endpoint to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// Where events are POSTed.
    pub url: String,
    /// What it receives.
    pub events: Vec<EventType>,
    /// For people.
    pub description: String,
}

/// A change to an endpoint; what is `None` stays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChange {
    /// New URL.
    pub url: Option<String>,
    /// New events.
    pub events: Option<Vec<EventType>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New description.
    pub description: Option<String>,
}

/// Why a webhook use case was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Admins only.
    #[error("admins only")]
    Forbidden,
    /// A value breaks its rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The URL may not be called (why, for people).
    #[error("URL refused: {0}")]
    Target(String),
    /// No such endpoint or delivery in the caller's organisations.
    #[error("{0:?} not found")]
    NotFound(Entity),
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Parse event names (at least one, each subscribable).
pub fn parse_events(names: &[String]) -> Result<Vec<EventType>, Invalid> {
    let invalid = |value: &str| Invalid::NotOneOf {
        field: "events",
        value: value.to_owned(),
        allowed: "lead.call_finished, task.state_changed, task.completed",
    };
    if names.is_empty() {
        return Err(invalid(""));
    }
    let mut events = names
        .iter()
        .map(|n| {
            EventType::parse(n.trim())
                .filter(|e| EventType::SUBSCRIBABLE.contains(e))
                .ok_or_else(|| invalid(n))
        })
        .collect::<Result<Vec<_>, _>>()?;
    events.sort();
    events.dedup();
    Ok(events)
}

fn description(d: &str) -> Result<String, Invalid> {
    let d = d.trim();
    if d.chars().count() > DESCRIPTION_MAX {
        return Err(Invalid::Length {
            field: "description",
            min: 0,
            max: DESCRIPTION_MAX,
        });
    }
    Ok(d.to_owned())
}

/// The admins' webhook use cases.
#[derive(Clone)]
pub struct WebhookService {
    repo: Arc<dyn WebhookRepository>,
    sender: Arc<dyn Sender>,
    allow: AllowHosts,
    clock: Arc<dyn Clock>,
}

impl WebhookService {
    /// Wire the service; `allow` lists the hosts exempt from the target rules.
    pub fn new(
        repo: Arc<dyn WebhookRepository>,
        sender: Arc<dyn Sender>,
        allow: AllowHosts,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            repo,
            sender,
            allow,
            clock,
        }
    }

    fn admin(caller: &Caller) -> Result<(), WebhookError> {
        if caller.role == Role::Admin {
            Ok(())
        } else {
            Err(WebhookError::Forbidden)
        }
    }

    async fn check_target(&self, url: &str) -> Result<String, WebhookError> {
        let url = url.trim();
        let target = check_url(url, &self.allow).map_err(WebhookError::Target)?;
        // an address in the URL itself was checked by check_url; a name is resolved
        if !target.allowed && target.host.parse::<std::net::IpAddr>().is_err() {
            self.sender
                .check_host(&target.host)
                .await
                .map_err(WebhookError::Target)?;
        }
        Ok(url.to_owned())
    }

    /// Register an endpoint of the caller's organisation; answers it and its secret (shown this
    /// once).
    pub async fn register(
        &self,
        caller: &Caller,
        mut new: NewWebhook,
    ) -> Result<(Webhook, String), WebhookError> {
        Self::admin(caller)?;
        new.url = self.check_target(&new.url).await?;
        new.description = description(&new.description)?;
        let secret = sign::new_secret();
        let audit = Entry::by(caller, Action::WebhookCreate)
            .detail("url", new.url.as_str())
            .detail("events", names(&new.events));
        let hook = self
            .repo
            .create(caller.org_id, caller.user_id, &new, &secret, audit)
            .await?;
        Ok((hook, secret))
    }

    /// The endpoints of the caller's organisations.
    pub async fn list(&self, caller: &Caller) -> Result<Vec<Webhook>, WebhookError> {
        Self::admin(caller)?;
        Ok(self.repo.list(&caller.scope).await?)
    }

    /// Change an endpoint.
    pub async fn update(
        &self,
        caller: &Caller,
        id: WebhookId,
        mut change: WebhookChange,
    ) -> Result<Webhook, WebhookError> {
        Self::admin(caller)?;
        if let Some(url) = &change.url {
            change.url = Some(self.check_target(url).await?);
        }
        change.description = change.description.as_deref().map(description).transpose()?;
        let mut audit = Entry::by(caller, Action::WebhookUpdate).on(Target::Webhook(id.0));
        if let Some(url) = &change.url {
            audit = audit.detail("url", url.as_str());
        }
        if let Some(events) = &change.events {
            audit = audit.detail("events", names(events));
        }
        if let Some(enabled) = change.enabled {
            audit = audit.detail("enabled", enabled);
        }
        self.repo
            .update(&caller.scope, id, &change, audit)
            .await?
            .ok_or(WebhookError::NotFound(Entity::Webhook))
    }

    /// Remove an endpoint and its deliveries.
    pub async fn delete(&self, caller: &Caller, id: WebhookId) -> Result<(), WebhookError> {
        Self::admin(caller)?;
        let audit = Entry::by(caller, Action::WebhookDelete).on(Target::Webhook(id.0));
        if self.repo.delete(&caller.scope, id, audit).await? {
            Ok(())
        } else {
            Err(WebhookError::NotFound(Entity::Webhook))
        }
    }

    /// A new secret (shown this once); the previous one keeps signing for
    /// [`ROTATION_OVERLAP_HOURS`], so that receivers can switch without losing an event.
    pub async fn rotate(
        &self,
        caller: &Caller,
        id: WebhookId,
    ) -> Result<(Webhook, String), WebhookError> {
        Self::admin(caller)?;
        let secret = sign::new_secret();
        let until = self.clock.now() + Duration::hours(ROTATION_OVERLAP_HOURS);
        let hook = self
            .repo
            .rotate(
                &caller.scope,
                id,
                &secret,
                until,
                Entry::by(caller, Action::WebhookRotateSecret).on(Target::Webhook(id.0)),
            )
            .await?
            .ok_or(WebhookError::NotFound(Entity::Webhook))?;
        Ok((hook, secret))
    }

    /// Send the endpoint a `ping` (through the outbox, like any event); answers the event.
    pub async fn test(&self, caller: &Caller, id: WebhookId) -> Result<Event, WebhookError> {
        Self::admin(caller)?;
        let event = Event::new(EventType::Ping, self.clock.now(), Ping { webhook_id: id.0 });
        let audit = Entry::by(caller, Action::WebhookTest)
            .on(Target::Webhook(id.0))
            .detail("event_id", event.id.as_str());
        if self.repo.enqueue(&caller.scope, id, &event, audit).await? {
            Ok(event)
        } else {
            Err(WebhookError::NotFound(Entity::Webhook))
        }
    }

    /// Deliveries of the caller's endpoints (of one, of one status), newest first.
    pub async fn deliveries(
        &self,
        caller: &Caller,
        webhook: Option<WebhookId>,
        status: Option<DeliveryStatus>,
        page: PageRequest,
    ) -> Result<Page<Delivery>, WebhookError> {
        Self::admin(caller)?;
        Ok(self
            .repo
            .deliveries(&caller.scope, webhook, status, page)
            .await?)
    }

    /// Try a delivery again now (a failed one becomes pending again).
    pub async fn retry(&self, caller: &Caller, id: DeliveryId) -> Result<Delivery, WebhookError> {
        Self::admin(caller)?;
        self.repo
            .retry(
                &caller.scope,
                id,
                Entry::by(caller, Action::DeliveryRetry).on(Target::Delivery(id.0)),
            )
            .await?
            .ok_or(WebhookError::NotFound(Entity::Delivery))
    }
}

/// The wire names of `events`, for an audit entry.
fn names(events: &[EventType]) -> Vec<&'static str> {
    events.iter().map(|e| e.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_subscribable_names_at_least_one() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            parse_events(&names(&[
                "task.completed",
                "lead.call_finished",
                "task.completed"
            ]))
            .unwrap(),
            vec![EventType::LeadCallFinished, EventType::TaskCompleted]
        );
        assert!(parse_events(&[]).is_err());
        assert!(
            parse_events(&names(&["ping"])).is_err(),
            "ping is not subscribed to"
        );
        assert!(parse_events(&names(&["lead.called"])).is_err());
    }
}
