//! Who is calling: [`Role`] and [`Caller`].

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

/// Who is calling: resolved from a verified token for every authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user.
    pub user_id: UserId,
    /// Their organisation.
    pub org_id: OrgId,
    /// Their role.
    pub role: Role,
    /// Their organisation and its descendants.
    pub scope: OrgScope,
}
