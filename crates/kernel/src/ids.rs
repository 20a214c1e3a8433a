//! Typed identifiers: one type per kind of row, so that a task id cannot be passed where an
//! organisation id is expected (lemmy's `PersonId` style). Each is the database's `bigint` and
//! the contract's integer; adapters unwrap them (`.0`) at the SQL boundary.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

id_type!(
    /// An organisation (`dcc_user_org_id` in the original system): the tenant.
    OrgId
);
id_type!(
    /// A user.
    UserId
);
id_type!(
    /// A lead (`dcc_leads.id`).
    LeadId
);
id_type!(
    /// A call task (`call_tasks.id`).
    TaskId
);
id_type!(
    /// A lead in a task (`leads_task_list.id`); also the reference id of its platform job.
    TaskLeadId
);
id_type!(
    /// A scene (a saved script and filter).
    SceneId
);
id_type!(
    /// A query execution run.
    RunId
);
id_type!(
    /// A dispatch batch: task leads claimed for one `assign_jobs` request.
    BatchId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_integers_on_the_wire() {
        assert_eq!(serde_json::to_string(&TaskId(7)).ok().as_deref(), Some("7"));
        assert_eq!(serde_json::from_str::<OrgId>("12").ok(), Some(OrgId(12)));
        assert_eq!(LeadId(3).to_string(), "3");
    }
}
id_type!(
    /// A webhook endpoint.
    WebhookId
);
id_type!(
    /// One delivery of an event to a webhook endpoint.
    DeliveryId
);
