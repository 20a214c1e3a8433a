//! Who is calling: [`Role`], [`Caller`] and where the request came from ([`Origin`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{OrgId, OrgScope, UserId};

/// A user's role within their organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RoleDto))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May manage users and run admin-only operations.
    Admin,
    /// Works with leads and tasks.
    Operator,
}

impl Role {
    /// The stored / wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "operator" => Ok(Role::Operator),
            other => Err(format!("unknown role `{other}` (admin or operator)")),
        }
    }
}

/// Where a request came from, for the audit trail (empty for the CLI and the workers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The request's id, as in the request log.
    pub request_id: Option<String>,
    /// The client's address (behind trusted proxies, the forwarded one).
    pub client_addr: Option<String>,
}

/// Who is calling: resolved from a verified token for every authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user.
    pub user_id: UserId,
    /// Their username.
    pub username: String,
    /// Their organisation.
    pub org_id: OrgId,
    /// Their role.
    pub role: Role,
    /// Their organisation and its descendants.
    pub scope: OrgScope,
    /// Where the request came from.
    pub origin: Origin,
}

impl Caller {
    /// The user id of the `outbound` CLI acting as an admin: no user has it, so the CLI is never
    /// refused as acting on its "own account".
    pub const CLI_USER: UserId = UserId(0);

    /// The CLI, acting as an admin of `scope` (whoever runs it on the server may do anything).
    pub fn cli(org_id: OrgId, scope: OrgScope) -> Self {
        Self {
            user_id: Self::CLI_USER,
            username: "cli".into(),
            org_id,
            role: Role::Admin,
            scope,
            origin: Origin::default(),
        }
    }

    /// Whether this is the CLI rather than a user.
    pub fn is_cli(&self) -> bool {
        self.user_id == Self::CLI_USER
    }
}
