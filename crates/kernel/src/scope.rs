//! [`OrgScope`]: the organisations a caller may see.

use std::collections::BTreeSet;

use crate::OrgId;

/// The organisations a caller may see: their own and all its descendants.
///
/// Built by the `org` crate from the organisation tree; repositories filter with
/// [`OrgScope::ids`] and check single ids with [`OrgScope::contains`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgScope {
    root: OrgId,
    ids: BTreeSet<OrgId>,
}

impl OrgScope {
    /// A scope rooted at `root` covering `ids` (the root is always included).
    pub fn new(root: OrgId, ids: impl IntoIterator<Item = OrgId>) -> Self {
        let mut ids: BTreeSet<OrgId> = ids.into_iter().collect();
        ids.insert(root);
        Self { root, ids }
    }

    /// The caller's own organisation.
    pub fn root(&self) -> OrgId {
        self.root
    }

    /// Whether `org` is inside the scope.
    pub fn contains(&self, org: OrgId) -> bool {
        self.ids.contains(&org)
    }

    /// All organisation ids in the scope, ascending.
    pub fn ids(&self) -> Vec<OrgId> {
        self.ids.iter().copied().collect()
    }

    /// Narrow the scope to `wanted` (must all be inside it).
    ///
    /// Returns `None` when any wanted id lies outside the scope (or none is wanted): the caller answers 404 so that
    /// the existence of other tenants' organisations is never revealed.
    pub fn narrow(&self, wanted: &[OrgId]) -> Option<OrgScope> {
        if !wanted.iter().all(|o| self.contains(*o)) {
            return None;
        }
        let root = if wanted.contains(&self.root) {
            self.root
        } else {
            // an empty list narrows to nothing of its own: the scope stays as it is
            *wanted.first()?
        };
        Some(OrgScope {
            root,
            ids: wanted.iter().copied().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_narrowing_refuses_outsiders() {
        let s = OrgScope::new(OrgId(1), [OrgId(2), OrgId(3)]);
        assert!(s.narrow(&[OrgId(2)]).is_some());
        assert!(s.narrow(&[OrgId(2), OrgId(9)]).is_none());
    }
}
