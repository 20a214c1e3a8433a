//! The server's command line for accounts and organisations: `outbound user list|disable|enable|
//! reset-password` and `outbound org list`. It acts as an admin of the user's own organisation,
//! through the same [`AccountService`] as the API, so the same rules hold (an organisation keeps
//! an enabled admin).

use std::sync::Arc;

use adapters::db::DbPool;
use adapters::pg_auth::{PgOrgs, PgUsers};
use anyhow::Context;
use auth::{AccountService, User, UserFilter, UserRepository};
use kernel::{Caller, OrgId, OrgScope, PageRequest};
use org::{OrgNode, OrgService};

use crate::boot;

/// The services the commands use.
pub struct AccountsCli {
    users: Arc<PgUsers>,
    accounts: AccountService,
    orgs: OrgService,
}

impl AccountsCli {
    /// Over this (migrated) pool.
    pub fn new(pool: DbPool) -> anyhow::Result<Self> {
        let users = Arc::new(PgUsers::new(pool.clone()));
        let accounts = AccountService::offline(users.clone(), Arc::new(boot::hasher()?));
        Ok(Self {
            users,
            accounts,
            orgs: OrgService::new(Arc::new(PgOrgs::new(pool))),
        })
    }

    async fn user(&self, username: &str) -> anyhow::Result<User> {
        self.users
            .find_credentials(username)
            .await?
            .map(|c| c.user)
            .with_context(|| format!("no user named `{username}`"))
    }

    /// An admin of `org`'s subtree.
    async fn admin_of(&self, org: OrgId) -> anyhow::Result<Caller> {
        Ok(Caller::cli(org, self.orgs.scope_of(org).await?))
    }

    /// Every user (of `org` only, when given) as a table, by id.
    pub async fn list(&self, org: Option<i64>) -> anyhow::Result<String> {
        let forest = self.orgs.forest().await?;
        let mut ids = Vec::new();
        collect(&forest, &mut ids);
        let caller = Caller::cli(OrgId(0), OrgScope::new(OrgId(0), ids));
        let filter = UserFilter {
            org_id: org.map(OrgId),
            ..UserFilter::default()
        };
        let mut out = format!(
            "{:>6}  {:<24} {:<16} {:<8} {:<24} {}\n",
            "ID", "USERNAME", "NAME", "ROLE", "ORGANISATION", "STATE"
        );
        for page in 1.. {
            let page = PageRequest::new(Some(page), Some(100))?;
            let users = self.accounts.list(&caller, filter.clone(), page).await?;
            for u in &users.items {
                let state = match (u.enabled, u.password_change_required) {
                    (false, _) => "disabled",
                    (true, true) => "must change password",
                    (true, false) => "enabled",
                };
                out.push_str(&format!(
                    "{:>6}  {:<24} {:<16} {:<8} {:<24} {state}\n",
                    u.id.0,
                    u.username,
                    u.display_name,
                    u.role.as_str(),
                    format!("{} ({})", u.org_name, u.org_id.0),
                ));
            }
            if i64::from(page.page()) >= users.pagination.total_pages {
                break;
            }
        }
        Ok(out)
    }

    /// Disable (`false`) or enable the user `username`.
    pub async fn set_enabled(&self, username: &str, enabled: bool) -> anyhow::Result<User> {
        let user = self.user(username).await?;
        let caller = self.admin_of(user.org_id).await?;
        Ok(self.accounts.set_enabled(&caller, user.id, enabled).await?)
    }

    /// A temporary password for `username`, who must change it at next login.
    pub async fn reset_password(&self, username: &str) -> anyhow::Result<String> {
        let user = self.user(username).await?;
        let caller = self.admin_of(user.org_id).await?;
        Ok(self.accounts.reset_password(&caller, user.id).await?.1)
    }

    /// Every organisation as an indented tree.
    pub async fn org_tree(&self) -> anyhow::Result<String> {
        let mut out = String::new();
        draw(&self.orgs.forest().await?, "", &mut out);
        Ok(out)
    }
}

fn collect(nodes: &[OrgNode], ids: &mut Vec<OrgId>) {
    for n in nodes {
        ids.push(n.id);
        collect(&n.children, ids);
    }
}

/// `nodes` below `prefix`, with the box-drawing lines of `tree(1)`.
fn draw(nodes: &[OrgNode], prefix: &str, out: &mut String) {
    for (i, n) in nodes.iter().enumerate() {
        let last = i + 1 == nodes.len();
        let (branch, next) = match (prefix.is_empty() && n.parent_id.is_none(), last) {
            (true, _) => ("", String::new()),
            (false, true) => ("└── ", format!("{prefix}    ")),
            (false, false) => ("├── ", format!("{prefix}│   ")),
        };
        out.push_str(&format!("{prefix}{branch}{} ({})\n", n.name, n.id));
        draw(&n.children, &next, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: i64, parent: Option<i64>, children: Vec<OrgNode>) -> OrgNode {
        OrgNode {
            id: OrgId(id),
            name: format!("org{id}"),
            parent_id: parent.map(OrgId),
            children,
        }
    }

    #[test]
    fn the_tree_is_drawn_with_branches() {
        let forest = vec![
            node(
                1,
                None,
                vec![
                    node(2, Some(1), vec![node(4, Some(2), vec![])]),
                    node(3, Some(1), vec![]),
                ],
            ),
            node(5, None, vec![]),
        ];
        let mut out = String::new();
        draw(&forest, "", &mut out);
        assert_eq!(
            out,
            "org1 (1)\n├── org2 (2)\n│   └── org4 (4)\n└── org3 (3)\norg5 (5)\n"
        );
    }
}
