//! [`ApiState`]: the services and ports the handlers call.

use std::sync::Arc;

use auth::{AccountService, AuthService};
use chrono_tz::Tz;
use leads::LeadService;
use ops::Ops;
use org::OrgService;
use tasks::TaskService;
use tasks::execution::{Background, Execution};

/// What every handler may use: domain services and ports, wired by the binary.
#[derive(Clone)]
pub struct ApiState {
    /// Login and tokens.
    pub auth: Arc<AuthService>,
    /// Admins' management of accounts.
    pub accounts: AccountService,
    /// Organisations.
    pub orgs: OrgService,
    /// Leads.
    pub leads: LeadService,
    /// Tasks and scenes.
    pub tasks: TaskService,
    /// Running tasks: lifecycle, results, runs.
    pub execution: Execution,
    /// The background loops of this process (the monitor's switch and status).
    pub background: Arc<dyn Background>,
    /// Webhook endpoints and their deliveries.
    pub webhooks: webhooks::WebhookService,
    /// The audit trail.
    pub audit: audit::AuditService,
    /// Health and configuration checks.
    pub ops: Ops,
    /// Time zone of the timestamps the API writes and reads.
    pub tz: Tz,
}
