//! [`Entity`]: the kinds of thing a request can name, so that "not found" says which.

/// A kind of stored thing. Errors carry it (`NotFound(Entity::Task)`); the HTTP adapters word
/// it for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// An organisation.
    Organisation,
    /// A user.
    User,
    /// A lead.
    Lead,
    /// A call task.
    Task,
    /// A scene.
    Scene,
    /// A query execution run.
    Run,
    /// A webhook endpoint.
    Webhook,
    /// A delivery of a webhook.
    Delivery,
}
