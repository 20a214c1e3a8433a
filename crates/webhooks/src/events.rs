//! The events a webhook can receive, and their bodies: `{type, timestamp, data}` as the
//! Standard Webhooks specification shapes them. Phones are masked as everywhere.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// The kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    /// A lead of a task reached a final call status.
    #[serde(rename = "lead.call_finished")]
    LeadCallFinished,
    /// A task changed state.
    #[serde(rename = "task.state_changed")]
    TaskStateChanged,
    /// A task completed, with its final statistics.
    #[serde(rename = "task.completed")]
    TaskCompleted,
    /// A test event, sent on request.
    #[serde(rename = "ping")]
    Ping,
}

impl EventType {
    /// Every kind a webhook can subscribe to (a ping is sent whatever the subscription).
    pub const SUBSCRIBABLE: [EventType; 3] = [
        EventType::LeadCallFinished,
        EventType::TaskStateChanged,
        EventType::TaskCompleted,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LeadCallFinished => "lead.call_finished",
            EventType::TaskStateChanged => "task.state_changed",
            EventType::TaskCompleted => "task.completed",
            EventType::Ping => "ping",
        }
    }

    /// The kind of a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            EventType::LeadCallFinished,
            EventType::TaskStateChanged,
            EventType::TaskCompleted,
            EventType::Ping,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }
}

/// One event: its id is the same for every endpoint and every retry, and so is its body, made
/// once when the event happens: every attempt sends (and signs) the same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `msg_…`, what receivers deduplicate by.
    pub id: String,
    /// Its kind.
    pub event_type: EventType,
    /// The JSON body sent: `{type, timestamp, data}`.
    pub body: String,
}

#[derive(Serialize)]
struct Body<'a, T> {
    #[serde(rename = "type")]
    event_type: &'static str,
    timestamp: String,
    data: &'a T,
}

impl Event {
    /// A new event with a fresh id; `data` is serialized straight into the body (a sync writes
    /// one event per finished lead, 100,000 for a big task).
    pub fn new(event_type: EventType, timestamp: DateTime<Utc>, data: impl Serialize) -> Self {
        let body = serde_json::to_string(&Body {
            event_type: event_type.as_str(),
            timestamp: rfc3339(timestamp),
            data: &data,
        })
        .unwrap_or_default();
        Self {
            id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
            event_type,
            body,
        }
    }
}

/// `data` of `lead.call_finished`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadCallFinished {
    /// The task.
    pub task_id: i64,
    /// The lead.
    pub lead_id: i64,
    /// The lead's phone, masked.
    pub phone: String,
    /// Its final call status (`connected`, `no_answer`, ...).
    pub call_status: String,
    /// Calls made.
    pub attempts: i32,
    /// Seconds of the call, if it was answered.
    pub duration_seconds: Option<i32>,
    /// Intent level from the call.
    pub intent_level: Option<String>,
    /// Intent tags.
    pub intent_tags: Vec<String>,
    /// Summary of the call.
    pub summary: Option<String>,
    /// Follow-up suggestion.
    pub follow_suggestion: Option<String>,
    /// When the last call was made (RFC 3339), if known.
    pub time: Option<String>,
}

/// `data` of `task.state_changed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskStateChanged {
    /// The task.
    pub task_id: i64,
    /// Its name.
    pub task_name: String,
    /// The state before (`created`, `running`, `completed`, `paused`, `stopped`).
    pub from: String,
    /// The state after.
    pub to: String,
    /// Who changed it; `null` when the service did (a completion, a start undone because the
    /// platform refused it).
    pub actor: Option<EventActor>,
}

/// A user who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventActor {
    /// User id.
    pub user_id: i64,
    /// Login name.
    pub username: String,
}

/// `data` of `task.completed`: the task's final statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskCompleted {
    /// The task.
    pub task_id: i64,
    /// Its name.
    pub task_name: String,
    /// Leads in the task.
    pub leads_total: i64,
    /// Leads whose call was attempted.
    pub called: i64,
    /// Leads connected.
    pub connected: i64,
    /// `connected / called`, 0 when nothing was called.
    pub connect_rate: f64,
    /// Average duration of connected calls, seconds.
    pub avg_duration_seconds: f64,
    /// Leads per call status.
    pub by_call_status: std::collections::BTreeMap<String, i64>,
}

/// `data` of `ping`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ping {
    /// The endpoint pinged.
    pub webhook_id: i64,
}

/// RFC 3339 with milliseconds, UTC.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_type_timestamp_data() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let e = Event::new(EventType::Ping, at, Ping { webhook_id: 3 });
        assert!(e.id.starts_with("msg_"));
        let body: serde_json::Value = serde_json::from_str(&e.body).unwrap();
        assert_eq!(body["type"], "ping");
        assert_eq!(body["timestamp"], "2023-11-14T22:13:20.000Z");
        assert_eq!(body["data"]["webhook_id"], 3);
        assert_eq!(
            EventType::parse("task.completed"),
            Some(EventType::TaskCompleted)
        );
        assert_eq!(EventType::parse("task.done"), None);
    }
}
