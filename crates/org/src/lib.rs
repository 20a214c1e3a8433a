//! # org
//!
//! Organisations (tenants) and their tree.
//!
//! Owns: the [`Organization`] model, building the caller's subtree as nested [`OrgNode`]s, and
//! resolving an organisation's [`kernel::OrgScope`] (itself and all descendants), which every
//! tenant-data query of the other crates takes.
//!
//! Port: [`OrgRepository`] (PostgreSQL in `adapters`). Use [`OrgService`] from handlers:
//!
//! ```ignore
//! let orgs = OrgService::new(repo);
//! let scope = orgs.scope_of(user.org_id).await?;   // OrgScope for repositories
//! let tree = orgs.tree(&scope).await?;              // for GET /api/organizations
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use kernel::{Caller, OrgId, OrgScope, RepoError, Role};
use serde::Serialize;

/// One organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organization {
    /// Id (`dcc_user_org_id`).
    pub id: OrgId,
    /// Name.
    pub name: String,
    /// Parent, `None` for a root.
    pub parent_id: Option<OrgId>,
}

/// An organisation with its children, for the tree view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgNode {
    /// Id.
    pub id: OrgId,
    /// Name.
    pub name: String,
    /// Parent id.
    pub parent_id: Option<OrgId>,
    /// Children, by id.
    pub children: Vec<OrgNode>,
}

/// Why an organisation could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateOrgError {
    /// Name empty or longer than 100 characters.
    #[error("organisation name must be 1 to 100 characters")]
    InvalidName,
    /// The parent does not exist (or is outside the caller's subtree).
    #[error("parent organisation not found")]
    ParentNotFound,
    /// A sibling has that name.
    #[error("a sibling organisation has that name")]
    NameTaken,
    /// Only admins create organisations.
    #[error("admins only")]
    Forbidden,
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Storage of organisations.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait OrgRepository: Send + Sync + 'static {
    /// `org` and all its descendants (empty when `org` does not exist).
    async fn subtree(&self, org: OrgId) -> Result<Vec<Organization>, RepoError>;
    /// Every organisation (for the server's own command line).
    async fn all(&self) -> Result<Vec<Organization>, RepoError>;
    /// Create an organisation, writing `audit` about it in the same transaction.
    async fn create(
        &self,
        name: &str,
        parent: Option<OrgId>,
        audit: audit::Entry,
    ) -> Result<Organization, CreateOrgError>;
}

/// How long a resolved scope is reused. Organisations are created rarely and never moved or
/// deleted; one created by another instance shows up in a parent's scope within this time (one
/// subtree query per organisation and second at most, whatever the request rate).
pub const SCOPE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

type ScopeCache = std::sync::Mutex<HashMap<OrgId, (std::time::Instant, OrgScope)>>;

/// Organisation use cases.
#[derive(Clone)]
pub struct OrgService {
    repo: Arc<dyn OrgRepository>,
    scopes: Arc<ScopeCache>,
}

impl OrgService {
    /// Wire the service.
    pub fn new(repo: Arc<dyn OrgRepository>) -> Self {
        Self {
            repo,
            scopes: Arc::default(),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<OrgId, (std::time::Instant, OrgScope)>> {
        self.scopes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The scope of `org`: itself and its descendants (cached for [`SCOPE_TTL`]).
    pub async fn scope_of(&self, org: OrgId) -> Result<OrgScope, RepoError> {
        if let Some((at, scope)) = self.cache().get(&org)
            && at.elapsed() < SCOPE_TTL
        {
            return Ok(scope.clone());
        }
        let orgs = self.repo.subtree(org).await?;
        let scope = OrgScope::new(org, orgs.into_iter().map(|o| o.id));
        let mut cache = self.cache();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(org, (std::time::Instant::now(), scope.clone()));
        Ok(scope)
    }

    /// The tree rooted at the scope's root.
    pub async fn tree(&self, scope: &OrgScope) -> Result<Vec<OrgNode>, RepoError> {
        let orgs = self.repo.subtree(scope.root()).await?;
        Ok(build_tree(scope.root(), orgs))
    }

    /// Every tree of organisations, by root id (for the server's own command line).
    pub async fn forest(&self) -> Result<Vec<OrgNode>, RepoError> {
        let orgs = self.repo.all().await?;
        let mut roots: Vec<OrgId> = orgs
            .iter()
            .filter(|o| o.parent_id.is_none())
            .map(|o| o.id)
            .collect();
        roots.sort();
        Ok(roots
            .into_iter()
            .flat_map(|root| build_tree(root, orgs.clone()))
            .collect())
    }

    /// Create an organisation under `parent`, which an admin caller must have in their subtree.
    pub async fn create_child(
        &self,
        caller: &Caller,
        name: &str,
        parent: OrgId,
    ) -> Result<Organization, CreateOrgError> {
        if caller.role != Role::Admin {
            return Err(CreateOrgError::Forbidden);
        }
        if !caller.scope.contains(parent) {
            return Err(CreateOrgError::ParentNotFound);
        }
        let audit = audit::Entry::by(caller, audit::Action::OrgCreate);
        self.create_as(name, Some(parent), audit).await
    }

    /// Create an organisation under `parent` (or a new root), for the server's own command line.
    pub async fn create(
        &self,
        name: &str,
        parent: Option<OrgId>,
    ) -> Result<Organization, CreateOrgError> {
        let audit = audit::Entry::cli(audit::Action::OrgCreate, parent);
        self.create_as(name, parent, audit).await
    }

    async fn create_as(
        &self,
        name: &str,
        parent: Option<OrgId>,
        audit: audit::Entry,
    ) -> Result<Organization, CreateOrgError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(CreateOrgError::InvalidName);
        }
        let created = self.repo.create(name, parent, audit).await?;
        // ancestors' scopes grew
        self.cache().clear();
        Ok(created)
    }
}

/// Nest `orgs` under `root`; returns the root as the single item (empty if it is missing).
pub fn build_tree(root: OrgId, orgs: Vec<Organization>) -> Vec<OrgNode> {
    let mut children: HashMap<Option<OrgId>, Vec<Organization>> = HashMap::new();
    let mut root_org = None;
    for o in orgs {
        if o.id == root {
            root_org = Some(o);
        } else {
            children.entry(o.parent_id).or_default().push(o);
        }
    }
    fn node(
        o: Organization,
        children: &mut HashMap<Option<OrgId>, Vec<Organization>>,
        depth: usize,
    ) -> OrgNode {
        let mut kids = if depth < 64 {
            children.remove(&Some(o.id)).unwrap_or_default()
        } else {
            Vec::new()
        };
        kids.sort_by_key(|k| k.id);
        OrgNode {
            id: o.id,
            name: o.name,
            parent_id: o.parent_id,
            children: kids
                .into_iter()
                .map(|k| node(k, children, depth + 1))
                .collect(),
        }
    }
    root_org
        .map(|r| vec![node(r, &mut children, 0)])
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(id: OrgId, parent: Option<OrgId>) -> Organization {
        Organization {
            id,
            name: format!("o{id}"),
            parent_id: parent,
        }
    }

    #[test]
    fn tree_nests_descendants() {
        let t = build_tree(
            OrgId(1),
            vec![
                o(OrgId(3), Some(OrgId(2))),
                o(OrgId(1), None),
                o(OrgId(2), Some(OrgId(1))),
                o(OrgId(4), Some(OrgId(1))),
            ],
        );
        assert_eq!(t.len(), 1);
        assert_eq!(
            t[0].children.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![OrgId(2), OrgId(4)]
        );
        assert_eq!(t[0].children[0].children[0].id, OrgId(3));
    }

    #[tokio::test]
    async fn scope_contains_descendants_only() {
        let mut repo = MockOrgRepository::new();
        repo.expect_subtree()
            .returning(|_| Ok(vec![o(OrgId(2), None), o(OrgId(5), Some(OrgId(2)))]));
        let svc = OrgService::new(Arc::new(repo));
        let s = svc.scope_of(OrgId(2)).await.unwrap();
        assert!(s.contains(OrgId(5)) && s.contains(OrgId(2)) && !s.contains(OrgId(1)));
    }

    #[tokio::test]
    async fn scope_is_cached_and_creation_invalidates_it() {
        let mut repo = MockOrgRepository::new();
        repo.expect_subtree()
            .times(2)
            .returning(|_| Ok(vec![o(OrgId(1), None)]));
        repo.expect_create().returning(|name, parent, _| {
            Ok(Organization {
                id: OrgId(9),
                name: name.into(),
                parent_id: parent,
            })
        });
        let svc = OrgService::new(Arc::new(repo));
        svc.scope_of(OrgId(1)).await.unwrap();
        svc.scope_of(OrgId(1)).await.unwrap(); // cached
        svc.create("child", Some(OrgId(1))).await.unwrap();
        svc.scope_of(OrgId(1)).await.unwrap(); // read again after a creation
    }

    #[tokio::test]
    async fn empty_name_is_refused_before_storage() {
        let svc = OrgService::new(Arc::new(MockOrgRepository::new()));
        assert!(matches!(
            svc.create("  ", None).await,
            Err(CreateOrgError::InvalidName)
        ));
    }
}
